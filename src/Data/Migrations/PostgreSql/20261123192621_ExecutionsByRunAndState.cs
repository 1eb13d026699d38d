using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class ExecutionsByRunAndState : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_State",
                table: "Executions",
                columns: new[] { "DagRunId", "State" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_State",
                table: "Executions");
        }
    }
}
