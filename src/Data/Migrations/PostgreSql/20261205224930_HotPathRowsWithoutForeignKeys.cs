using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class HotPathRowsWithoutForeignKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_Attempts_Executions_ExecutionId",
                table: "Attempts");

            migrationBuilder.DropForeignKey(
                name: "FK_LogEntries_Executions_ExecutionId",
                table: "LogEntries");

            migrationBuilder.DropForeignKey(
                name: "FK_StateChanges_Executions_ExecutionId",
                table: "StateChanges");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddForeignKey(
                name: "FK_Attempts_Executions_ExecutionId",
                table: "Attempts",
                column: "ExecutionId",
                principalTable: "Executions",
                principalColumn: "Id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "FK_LogEntries_Executions_ExecutionId",
                table: "LogEntries",
                column: "ExecutionId",
                principalTable: "Executions",
                principalColumn: "Id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "FK_StateChanges_Executions_ExecutionId",
                table: "StateChanges",
                column: "ExecutionId",
                principalTable: "Executions",
                principalColumn: "Id",
                onDelete: ReferentialAction.Cascade);
        }
    }
}
