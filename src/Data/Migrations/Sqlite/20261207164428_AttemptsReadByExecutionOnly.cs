using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AttemptsReadByExecutionOnly : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Attempts_FinishedAt_Outcome",
                table: "Attempts");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_Attempts_FinishedAt_Outcome",
                table: "Attempts",
                columns: new[] { "FinishedAt", "Outcome" });
        }
    }
}
