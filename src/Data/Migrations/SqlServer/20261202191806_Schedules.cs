using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class Schedules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ScheduleName",
                table: "Executions",
                type: "nvarchar(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ScheduleSlot",
                table: "Executions",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ScheduleName",
                table: "DagRuns",
                type: "nvarchar(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ScheduleSlot",
                table: "DagRuns",
                type: "bigint",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "Schedules",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    Name = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: false),
                    Description = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Cron = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: false),
                    TimeZone = table.Column<string>(type: "nvarchar(100)", maxLength: 100, nullable: false),
                    Enabled = table.Column<bool>(type: "bit", nullable: false),
                    Overlap = table.Column<int>(type: "int", nullable: false),
                    CatchUp = table.Column<int>(type: "int", nullable: false),
                    StartAt = table.Column<long>(type: "bigint", nullable: true),
                    EndAt = table.Column<long>(type: "bigint", nullable: true),
                    JitterSeconds = table.Column<int>(type: "int", nullable: false),
                    Kind = table.Column<int>(type: "int", nullable: false),
                    Task = table.Column<string>(type: "nvarchar(400)", maxLength: 400, nullable: true),
                    ArgsJson = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Command = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    Environment = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    WorkingDirectory = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    DagJson = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Queue = table.Column<string>(type: "nvarchar(100)", maxLength: 100, nullable: false),
                    Priority = table.Column<int>(type: "int", nullable: false),
                    Tags = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    MaxRetries = table.Column<int>(type: "int", nullable: false),
                    RetryIntervalSeconds = table.Column<int>(type: "int", nullable: false),
                    TimeoutSeconds = table.Column<int>(type: "int", nullable: true),
                    FromConfiguration = table.Column<bool>(type: "bit", nullable: false),
                    CreatedAt = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAt = table.Column<long>(type: "bigint", nullable: false),
                    SlotsFrom = table.Column<long>(type: "bigint", nullable: false),
                    LastSlot = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Schedules", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ScheduleFirings",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    ScheduleId = table.Column<long>(type: "bigint", nullable: false),
                    Slot = table.Column<long>(type: "bigint", nullable: false),
                    FiredAt = table.Column<long>(type: "bigint", nullable: false),
                    Kind = table.Column<int>(type: "int", nullable: false),
                    Outcome = table.Column<int>(type: "int", nullable: false),
                    ExecutionId = table.Column<long>(type: "bigint", nullable: true),
                    DagRunId = table.Column<long>(type: "bigint", nullable: true),
                    NodeId = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: true),
                    Message = table.Column<string>(type: "nvarchar(max)", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ScheduleFirings", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ScheduleFirings_Schedules_ScheduleId",
                        column: x => x.ScheduleId,
                        principalTable: "Schedules",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_ScheduleName_State",
                table: "Executions",
                columns: new[] { "ScheduleName", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_DagRuns_ScheduleName_State",
                table: "DagRuns",
                columns: new[] { "ScheduleName", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_ScheduleFirings_Outcome_ScheduleId",
                table: "ScheduleFirings",
                columns: new[] { "Outcome", "ScheduleId" });

            migrationBuilder.CreateIndex(
                name: "IX_ScheduleFirings_ScheduleId_Id",
                table: "ScheduleFirings",
                columns: new[] { "ScheduleId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_ScheduleFirings_ScheduleId_Slot",
                table: "ScheduleFirings",
                columns: new[] { "ScheduleId", "Slot" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Schedules_Name",
                table: "Schedules",
                column: "Name",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ScheduleFirings");

            migrationBuilder.DropTable(
                name: "Schedules");

            migrationBuilder.DropIndex(
                name: "IX_Executions_ScheduleName_State",
                table: "Executions");

            migrationBuilder.DropIndex(
                name: "IX_DagRuns_ScheduleName_State",
                table: "DagRuns");

            migrationBuilder.DropColumn(
                name: "ScheduleName",
                table: "Executions");

            migrationBuilder.DropColumn(
                name: "ScheduleSlot",
                table: "Executions");

            migrationBuilder.DropColumn(
                name: "ScheduleName",
                table: "DagRuns");

            migrationBuilder.DropColumn(
                name: "ScheduleSlot",
                table: "DagRuns");
        }
    }
}
