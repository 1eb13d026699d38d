using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class ExecutionIndexesOfEndedAndRunningOnly : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Executions_FinishedAt_State",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_NodeId_State",
                table: "Executions");

            migrationBuilder.CreateIndex(
                name: "IX_Executions_FinishedAt_State",
                table: "Executions",
                columns: new[] { "FinishedAt", "State" },
                filter: "[FinishedAt] IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_Executions_NodeId_State",
                table: "Executions",
                columns: new[] { "NodeId", "State" },
                filter: "[State] IN (3, 4)");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Executions_FinishedAt_State",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_NodeId_State",
                table: "Executions");

            migrationBuilder.CreateIndex(
                name: "IX_Executions_FinishedAt_State",
                table: "Executions",
                columns: new[] { "FinishedAt", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_NodeId_State",
                table: "Executions",
                columns: new[] { "NodeId", "State" });
        }
    }
}
