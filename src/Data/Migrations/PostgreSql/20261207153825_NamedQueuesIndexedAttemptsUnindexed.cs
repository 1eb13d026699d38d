using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class NamedQueuesIndexedAttemptsUnindexed : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Executions_Queue_State",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Attempts_FinishedAt_Outcome",
                table: "Attempts");

            migrationBuilder.AlterTable(
                name: "Attempts")
                .Annotation("Npgsql:StorageParameter:fillfactor", 50);

            migrationBuilder.CreateIndex(
                name: "IX_Executions_Queue_State",
                table: "Executions",
                columns: new[] { "Queue", "State" },
                filter: "\"Queue\" <> 'default'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Executions_Queue_State",
                table: "Executions");

            migrationBuilder.AlterTable(
                name: "Attempts")
                .OldAnnotation("Npgsql:StorageParameter:fillfactor", 50);

            migrationBuilder.CreateIndex(
                name: "IX_Executions_Queue_State",
                table: "Executions",
                columns: new[] { "Queue", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_Attempts_FinishedAt_Outcome",
                table: "Attempts",
                columns: new[] { "FinishedAt", "Outcome" });
        }
    }
}
