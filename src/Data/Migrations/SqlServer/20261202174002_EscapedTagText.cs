using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Taskdeck.Data.Storage;

#nullable disable

namespace Taskdeck.Data.Migrations.SqlServer
{
    /// <summary>
    /// Re-encodes the tag text of rows whose tags hold '|' or '%' (Core's TagText: each escaped as %7C / %25), so a stored
    /// "a|b" can no longer answer a filter for "a". No column changes: the model (and its snapshot) stay as they were.
    /// </summary>
    [DbContext(typeof(SqlServerTaskdeckDbContext))]
    [Migration("20261202174002_EscapedTagText")]
    public partial class EscapedTagText : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(@"UPDATE [Executions] SET [TagsText] = N'|' + COALESCE((SELECT STRING_AGG(REPLACE(REPLACE([value], N'%', N'%25'), N'|', N'%7C') + N'|', N'') FROM OPENJSON([Executions].[Tags])), N'')
WHERE CHARINDEX(N'|', [Tags]) > 0 OR CHARINDEX(N'%', [Tags]) > 0");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(@"UPDATE [Executions] SET [TagsText] = N'|' + COALESCE((SELECT STRING_AGG([value] + N'|', N'') FROM OPENJSON([Executions].[Tags])), N'')
WHERE CHARINDEX(N'|', [Tags]) > 0 OR CHARINDEX(N'%', [Tags]) > 0");
        }
    }
}
