using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
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

            // A few joins hold most edges: once ANALYZE counted them, the planner expected any child's edges to turn up
            // early in a scan of the whole table and chose that scan for "has this child another parent?" at every DAG
            // task's success. Per child the question is a lookup: plan it as one, whatever a few big joins do to the counts.
            migrationBuilder.Sql("ALTER TABLE \"DagEdges\" ALTER COLUMN \"ChildExecutionId\" SET (n_distinct = -0.5)");
            // The setting is read by ANALYZE: taken now, not whenever autovacuum next finds enough new edges.
            migrationBuilder.Sql("ANALYZE \"DagEdges\"");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("ALTER TABLE \"DagEdges\" ALTER COLUMN \"ChildExecutionId\" RESET (n_distinct)");

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
