using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.Sqlite
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
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ScheduleSlot",
                table: "Executions",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ScheduleName",
                table: "DagRuns",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ScheduleSlot",
                table: "DagRuns",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "Schedules",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Description = table.Column<string>(type: "TEXT", nullable: true),
                    Cron = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    TimeZone = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    Overlap = table.Column<int>(type: "INTEGER", nullable: false),
                    CatchUp = table.Column<int>(type: "INTEGER", nullable: false),
                    StartAt = table.Column<long>(type: "INTEGER", nullable: true),
                    EndAt = table.Column<long>(type: "INTEGER", nullable: true),
                    JitterSeconds = table.Column<int>(type: "INTEGER", nullable: false),
                    Kind = table.Column<int>(type: "INTEGER", nullable: false),
                    Task = table.Column<string>(type: "TEXT", maxLength: 400, nullable: true),
                    ArgsJson = table.Column<string>(type: "TEXT", nullable: true),
                    Command = table.Column<string>(type: "TEXT", nullable: false),
                    Environment = table.Column<string>(type: "TEXT", nullable: false),
                    WorkingDirectory = table.Column<string>(type: "TEXT", nullable: true),
                    DagJson = table.Column<string>(type: "TEXT", nullable: true),
                    Queue = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Priority = table.Column<int>(type: "INTEGER", nullable: false),
                    Tags = table.Column<string>(type: "TEXT", nullable: false),
                    MaxRetries = table.Column<int>(type: "INTEGER", nullable: false),
                    RetryIntervalSeconds = table.Column<int>(type: "INTEGER", nullable: false),
                    TimeoutSeconds = table.Column<int>(type: "INTEGER", nullable: true),
                    FromConfiguration = table.Column<bool>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    SlotsFrom = table.Column<long>(type: "INTEGER", nullable: false),
                    LastSlot = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Schedules", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ScheduleFirings",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ScheduleId = table.Column<long>(type: "INTEGER", nullable: false),
                    Slot = table.Column<long>(type: "INTEGER", nullable: false),
                    FiredAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Kind = table.Column<int>(type: "INTEGER", nullable: false),
                    Outcome = table.Column<int>(type: "INTEGER", nullable: false),
                    ExecutionId = table.Column<long>(type: "INTEGER", nullable: true),
                    DagRunId = table.Column<long>(type: "INTEGER", nullable: true),
                    NodeId = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    Message = table.Column<string>(type: "TEXT", nullable: true)
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
