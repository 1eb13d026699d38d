using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class DagRunMayRunCommands : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "MayRunCommands",
                table: "DagRuns",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "MayRunCommands",
                table: "DagRuns");
        }
    }
}
