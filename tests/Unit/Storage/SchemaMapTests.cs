using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Data.Storage;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// The hand-written SQL names its tables and columns from <see cref="Schema"/>; the EF model, and so the migrations, must
/// name them the same. On each provider's design-time model (no server: SQL Server's is built offline too), every table of
/// the map is one entity's table, each of its constants is the column of the property it is named after, and every column
/// the model maps for that entity is in the map; and the model is what the migrations build (no pending model change), so
/// a name changed in the map without a migration fails here as well.
/// </summary>
public sealed class SchemaMapTests
{
    public static TheoryData<string> Providers => ["Sqlite", "PostgreSql", "SqlServer"];

    private static TaskdeckDbContext Context(string provider) => provider switch
    {
        "Sqlite" => new SqliteTaskdeckDbContext(new DbContextOptionsBuilder<SqliteTaskdeckDbContext>().UseSqlite("Data Source=:memory:").Options),
        "PostgreSql" => new PostgreSqlTaskdeckDbContext(new DbContextOptionsBuilder<PostgreSqlTaskdeckDbContext>().UseNpgsql("Host=nowhere;Database=taskdeck").Options),
        "SqlServer" => new SqlServerTaskdeckDbContext(new DbContextOptionsBuilder<SqlServerTaskdeckDbContext>()
            .UseSqlServer("Server=nowhere;Database=taskdeck;TrustServerCertificate=true").Options),
        _ => throw new ArgumentOutOfRangeException(nameof(provider)),
    };

    [Theory]
    [MemberData(nameof(Providers))]
    public void EveryTableOfTheMap_HasTheMapsColumns_AndNoOther_InTheModel(string provider)
    {
        using var db = Context(provider);
        var model = db.GetService<IDesignTimeModel>().Model;
        var tables = Schema.Tables.ToList();
        Assert.True(tables.Count >= 10, $"the map lists {tables.Count} tables");

        var mismatches = new List<string>();
        foreach (var table in tables)
        {
            var name = Schema.Unquoted(Schema.TableOf(table));
            var entities = model.GetEntityTypes().Where(e => e.GetTableName() == name).ToList();
            if (entities is not [var entity])
            {
                mismatches.Add($"{table.Name}: table {name} is mapped by {entities.Count} entities of the model, not one");
                continue;
            }
            var store = StoreObjectIdentifier.Table(name, entity.GetSchema());
            var mapped = Schema.ColumnsOf(table).ToList();
            foreach (var (property, column) in mapped)
            {
                var modelled = entity.FindProperty(property)?.GetColumnName(store);
                if (modelled != Schema.Unquoted(column))
                    mismatches.Add($"{table.Name}.{property}: the map says {column}, the model {(modelled is null ? "has no such property" : $"\"{modelled}\"")}");
            }
            var inMap = mapped.Select(c => Schema.Unquoted(c.Column)).ToHashSet();
            foreach (var property in entity.GetProperties())
                if (property.GetColumnName(store) is { } column && !inMap.Contains(column))
                    mismatches.Add($"{table.Name}: the model maps {entity.ClrType.Name}.{property.Name} to \"{column}\", which the map does not list");
        }
        Assert.True(mismatches.Count == 0, $"{provider}:\n" + string.Join("\n", mismatches));
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public void TheModel_IsWhatTheMigrationsBuild(string provider)
    {
        using var db = Context(provider);
        Assert.False(db.Database.HasPendingModelChanges(),
            $"{provider}: the EF model differs from the migrations' snapshot (a name changed in Schema or the model without a migration)");
    }

    [Fact]
    public void EveryNameOfTheMap_IsOneNameInDoubleQuotes()
    {
        foreach (var table in Schema.Tables)
        foreach (var name in Schema.ColumnsOf(table).Select(c => c.Column).Prepend(Schema.TableOf(table)))
            Assert.Matches("^\"[A-Za-z][A-Za-z0-9]*\"$", name);
    }

    // Hand-written SQL takes its names from the map, so a name written out in a statement is one the map cannot rename.
    // Only the text of string literals is read (parsed by Roslyn: comments and identifiers are not strings), and in it a
    // name in double quotes that is one of the map's tables, or one of its columns unless it follows AS (an alias naming a
    // result's property, such as AS "Count"). The migrations are history and keep the names they were written with.
    [Fact]
    public void NoSourceOutsideTheMap_WritesATableOrColumnNameOfItsOwn()
    {
        var src = Path.Combine(ConsoleProcess.RepositoryRoot(), "src");
        var found = new List<string>();
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(src, file).Replace('\\', '/');
            if (relative.Split('/').Any(part => part is "bin" or "obj" or "Migrations") || relative == "Data/Storage/Schema.cs") continue;
            found.AddRange(NamesWrittenOut(File.ReadAllText(file)).Distinct().Select(n => $"{relative}: {n}"));
        }
        Assert.True(found.Count == 0, "names written out instead of taken from Schema:\n" + string.Join("\n", found));
    }

    [Fact]
    public void TheNameCheck_FindsANameInAStringLiteral_NotInACommentNorAnAlias()
    {
        const string source = """"
            class Q
            {
                // SELECT "Name" FROM "Executions"
                string a = "SELECT COUNT(*) AS \"Count\" FROM " + Schema.ExecutionColumns.Table;
                string b = $"UPDATE {T} SET \"HeartbeatAt\" = 1";
                string c = """
                    SELECT x FROM "StateChanges"
                    """;
                string d = "Executions";
            }
            """";
        Assert.Equal(["\"HeartbeatAt\"", "\"StateChanges\""], NamesWrittenOut(source));
    }

    private static readonly Regex QuotedName = new("(?<as>\\bAS\\s+)?\"(?<name>[A-Za-z][A-Za-z0-9]*)\"", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private static List<string> NamesWrittenOut(string source)
    {
        var tables = Schema.Tables.Select(Schema.TableOf).ToHashSet(StringComparer.Ordinal);
        var columns = Schema.Tables.SelectMany(t => Schema.ColumnsOf(t).Select(c => c.Column)).ToHashSet(StringComparer.Ordinal);
        var found = new List<string>();
        foreach (var token in CSharpSyntaxTree.ParseText(source).GetRoot().DescendantTokens())
        {
            if (!token.IsKind(SyntaxKind.StringLiteralToken) && !token.IsKind(SyntaxKind.SingleLineRawStringLiteralToken)
                && !token.IsKind(SyntaxKind.MultiLineRawStringLiteralToken) && !token.IsKind(SyntaxKind.InterpolatedStringTextToken)
                && !token.IsKind(SyntaxKind.Utf8StringLiteralToken))
                continue;
            foreach (Match m in QuotedName.Matches(token.ValueText))
            {
                var quoted = $"\"{m.Groups["name"].Value}\"";
                if (tables.Contains(quoted) || (columns.Contains(quoted) && !m.Groups["as"].Success)) found.Add(quoted);
            }
        }
        return found;
    }
}
