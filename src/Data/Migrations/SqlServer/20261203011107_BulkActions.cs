using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class BulkActions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "BulkActions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    Kind = table.Column<int>(type: "int", nullable: false),
                    DagRunId = table.Column<long>(type: "bigint", nullable: true),
                    IdsJson = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    FilterJson = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    ActorName = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: false),
                    ActorKind = table.Column<int>(type: "int", nullable: false),
                    ActorAddress = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: true),
                    Reason = table.Column<string>(type: "nvarchar(1000)", maxLength: 1000, nullable: true),
                    Total = table.Column<int>(type: "int", nullable: false),
                    Applied = table.Column<int>(type: "int", nullable: false),
                    Skipped = table.Column<int>(type: "int", nullable: false),
                    Phase = table.Column<int>(type: "int", nullable: false),
                    LastId = table.Column<long>(type: "bigint", nullable: false),
                    NodeId = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: true),
                    CreatedAt = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAt = table.Column<long>(type: "bigint", nullable: false),
                    FinishedAt = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_BulkActions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_Id",
                table: "Executions",
                columns: new[] { "DagRunId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_BulkActions_DagRunId_FinishedAt",
                table: "BulkActions",
                columns: new[] { "DagRunId", "FinishedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_BulkActions_FinishedAt_Id",
                table: "BulkActions",
                columns: new[] { "FinishedAt", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "BulkActions");

            migrationBuilder.DropIndex(
                name: "IX_Executions_DagRunId_Id",
                table: "Executions");
        }
    }
}
