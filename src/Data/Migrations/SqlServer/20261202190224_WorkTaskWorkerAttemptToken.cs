using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class WorkTaskWorkerAttemptToken : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "WorkerTokenAttempt",
                table: "WorkTasks",
                type: "int",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "WorkerTokenHash",
                table: "WorkTasks",
                type: "nvarchar(64)",
                maxLength: 64,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "WorkerTokenAttempt",
                table: "WorkTasks");

            migrationBuilder.DropColumn(
                name: "WorkerTokenHash",
                table: "WorkTasks");
        }
    }
}
