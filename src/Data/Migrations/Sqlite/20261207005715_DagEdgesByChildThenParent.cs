using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class DagEdgesByChildThenParent : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_DagEdges_ChildExecutionId",
                table: "DagEdges");

            migrationBuilder.CreateIndex(
                name: "IX_DagEdges_ChildExecutionId_ParentExecutionId",
                table: "DagEdges",
                columns: new[] { "ChildExecutionId", "ParentExecutionId" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_DagEdges_ChildExecutionId_ParentExecutionId",
                table: "DagEdges");

            migrationBuilder.CreateIndex(
                name: "IX_DagEdges_ChildExecutionId",
                table: "DagEdges",
                column: "ChildExecutionId");
        }
    }
}
