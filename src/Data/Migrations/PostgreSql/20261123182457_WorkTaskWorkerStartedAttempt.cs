using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class WorkTaskWorkerStartedAttempt : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "WorkerStartedAttempt",
                table: "WorkTasks",
                type: "integer",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "WorkerStartedAttempt",
                table: "WorkTasks");
        }
    }
}
