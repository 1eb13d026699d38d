using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class LeanerExecutionIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_DagTaskName",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_Id",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_State",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_ScheduleName_State",
                table: "Executions");

            migrationBuilder.AlterTable(
                name: "Executions")
                .Annotation("Npgsql:StorageParameter:fillfactor", 50);

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_DagTaskName",
                table: "Executions",
                columns: new[] { "DagRunId", "DagTaskName" },
                filter: "\"DagRunId\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_Id",
                table: "Executions",
                columns: new[] { "DagRunId", "Id" },
                filter: "\"DagRunId\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_State",
                table: "Executions",
                columns: new[] { "DagRunId", "State" },
                filter: "\"DagRunId\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_Executions_ScheduleName_State",
                table: "Executions",
                columns: new[] { "ScheduleName", "State" },
                filter: "\"ScheduleName\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_DagTaskName",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_Id",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_State",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_ScheduleName_State",
                table: "Executions");

            migrationBuilder.AlterTable(
                name: "Executions")
                .OldAnnotation("Npgsql:StorageParameter:fillfactor", 50);

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_DagTaskName",
                table: "Executions",
                columns: new[] { "DagRunId", "DagTaskName" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_Id",
                table: "Executions",
                columns: new[] { "DagRunId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_State",
                table: "Executions",
                columns: new[] { "DagRunId", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_ScheduleName_State",
                table: "Executions",
                columns: new[] { "ScheduleName", "State" });
        }
    }
}
