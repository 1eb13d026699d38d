using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
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

            migrationBuilder.AlterTable(
                name: "Attempts")
                .Annotation("Npgsql:StorageParameter:fillfactor", 50);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterTable(
                name: "Attempts")
                .OldAnnotation("Npgsql:StorageParameter:fillfactor", 50);

            migrationBuilder.CreateIndex(
                name: "IX_Attempts_FinishedAt_Outcome",
                table: "Attempts",
                columns: new[] { "FinishedAt", "Outcome" });
        }
    }
}
