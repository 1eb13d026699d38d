using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Taskdeck.Data.Storage;

#nullable disable

namespace Taskdeck.Data.Migrations.Sqlite
{
    /// <summary>
    /// Re-encodes the tag text of rows whose tags hold '|' or '%' (Core's TagText: each escaped as %7C / %25), so a stored
    /// "a|b" can no longer answer a filter for "a". No column changes: the model (and its snapshot) stay as they were.
    /// </summary>
    [DbContext(typeof(SqliteTaskdeckDbContext))]
    [Migration("20261202174000_EscapedTagText")]
    public partial class EscapedTagText : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(@"UPDATE ""Executions"" SET ""TagsText"" = '|' || COALESCE((SELECT group_concat(replace(replace(value, '%', '%25'), '|', '%7C') || '|', '') FROM json_each(""Executions"".""Tags"")), '')
WHERE instr(""Tags"", '|') > 0 OR instr(""Tags"", '%') > 0");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(@"UPDATE ""Executions"" SET ""TagsText"" = '|' || COALESCE((SELECT group_concat(value || '|', '') FROM json_each(""Executions"".""Tags"")), '')
WHERE instr(""Tags"", '|') > 0 OR instr(""Tags"", '%') > 0");
        }
    }
}
