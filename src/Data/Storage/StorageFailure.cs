using System.Data.Common;

namespace Taskdeck.Data.Storage;

/// <summary>
/// Whether an error says the database could not be reached (the connection or the server failed), not that it refused a
/// statement: a retry later may succeed, and the caller should say "unavailable", not "wrong". Errors come wrapped (EF
/// Core, the write queue, a coalesced read), so the whole chain is looked at.
/// </summary>
public static class StorageFailure
{
    /// <summary>Transient by the provider's word (a refused or dropped connection, a busy file), or a timeout, anywhere in the chain.</summary>
    public static bool IsUnreachable(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner is TimeoutException or DbException { IsTransient: true }) return true;
        return false;
    }
}
