using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DagRuns",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    Tag = table.Column<string>(type: "nvarchar(400)", maxLength: 400, nullable: false),
                    State = table.Column<int>(type: "int", nullable: false),
                    SpecJson = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    ParametersJson = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    CreatedAt = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAt = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DagRuns", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Executions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    TaskId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Kind = table.Column<int>(type: "int", nullable: false),
                    Name = table.Column<string>(type: "nvarchar(400)", maxLength: 400, nullable: false),
                    ArgumentsJson = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Command = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    Environment = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    WorkingDirectory = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Queue = table.Column<string>(type: "nvarchar(100)", maxLength: 100, nullable: false),
                    Priority = table.Column<int>(type: "int", nullable: false),
                    State = table.Column<int>(type: "int", nullable: false),
                    AttemptCount = table.Column<int>(type: "int", nullable: false),
                    MaxRetries = table.Column<int>(type: "int", nullable: false),
                    RetryIntervalSeconds = table.Column<int>(type: "int", nullable: false),
                    ExponentialBackoff = table.Column<bool>(type: "bit", nullable: false),
                    RetryPolicy = table.Column<int>(type: "int", nullable: false),
                    TimeoutSeconds = table.Column<int>(type: "int", nullable: true),
                    RunAt = table.Column<long>(type: "bigint", nullable: true),
                    ExpiresAt = table.Column<long>(type: "bigint", nullable: true),
                    CreatedAt = table.Column<long>(type: "bigint", nullable: false),
                    UpdatedAt = table.Column<long>(type: "bigint", nullable: false),
                    StartedAt = table.Column<long>(type: "bigint", nullable: true),
                    FinishedAt = table.Column<long>(type: "bigint", nullable: true),
                    ResultJson = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    ErrorMessage = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Progress = table.Column<double>(type: "float", nullable: true),
                    ProgressMessage = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Tags = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    DagRunId = table.Column<long>(type: "bigint", nullable: true),
                    DagTaskName = table.Column<string>(type: "nvarchar(400)", maxLength: 400, nullable: true),
                    IsGenerator = table.Column<bool>(type: "bit", nullable: false),
                    NodeId = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: true),
                    HangfireJobId = table.Column<string>(type: "nvarchar(100)", maxLength: 100, nullable: true),
                    Cores = table.Column<double>(type: "float", nullable: false),
                    MemoryMB = table.Column<long>(type: "bigint", nullable: false),
                    Gpus = table.Column<int>(type: "int", nullable: false),
                    TagsText = table.Column<string>(type: "nvarchar(1000)", maxLength: 1000, nullable: true, defaultValue: "|")
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Executions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "MetricSamples",
                columns: table => new
                {
                    At = table.Column<long>(type: "bigint", nullable: false),
                    Queued = table.Column<int>(type: "int", nullable: false),
                    Running = table.Column<int>(type: "int", nullable: false),
                    Waiting = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MetricSamples", x => x.At);
                });

            migrationBuilder.CreateTable(
                name: "WorkerNodes",
                columns: table => new
                {
                    Id = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: false),
                    HostName = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    ProcessId = table.Column<int>(type: "int", nullable: false),
                    Roles = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    StartedAt = table.Column<long>(type: "bigint", nullable: false),
                    HeartbeatAt = table.Column<long>(type: "bigint", nullable: false),
                    Cores = table.Column<double>(type: "float", nullable: false),
                    MemoryMB = table.Column<long>(type: "bigint", nullable: false),
                    Gpus = table.Column<int>(type: "int", nullable: false),
                    WorkerCount = table.Column<int>(type: "int", nullable: false),
                    RunningCount = table.Column<int>(type: "int", nullable: false),
                    StoppedAt = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_WorkerNodes", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "DagEdges",
                columns: table => new
                {
                    DagRunId = table.Column<long>(type: "bigint", nullable: false),
                    ParentExecutionId = table.Column<long>(type: "bigint", nullable: false),
                    ChildExecutionId = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DagEdges", x => new { x.DagRunId, x.ParentExecutionId, x.ChildExecutionId });
                    table.ForeignKey(
                        name: "FK_DagEdges_DagRuns_DagRunId",
                        column: x => x.DagRunId,
                        principalTable: "DagRuns",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "DagRunStateChanges",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    DagRunId = table.Column<long>(type: "bigint", nullable: false),
                    At = table.Column<long>(type: "bigint", nullable: false),
                    State = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DagRunStateChanges", x => x.Id);
                    table.ForeignKey(
                        name: "FK_DagRunStateChanges_DagRuns_DagRunId",
                        column: x => x.DagRunId,
                        principalTable: "DagRuns",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Attempts",
                columns: table => new
                {
                    ExecutionId = table.Column<long>(type: "bigint", nullable: false),
                    Number = table.Column<int>(type: "int", nullable: false),
                    NodeId = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: true),
                    StartedAt = table.Column<long>(type: "bigint", nullable: false),
                    FinishedAt = table.Column<long>(type: "bigint", nullable: true),
                    Outcome = table.Column<int>(type: "int", nullable: false),
                    Rc = table.Column<int>(type: "int", nullable: true),
                    Error = table.Column<string>(type: "nvarchar(max)", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Attempts", x => new { x.ExecutionId, x.Number });
                    table.ForeignKey(
                        name: "FK_Attempts_Executions_ExecutionId",
                        column: x => x.ExecutionId,
                        principalTable: "Executions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "LogEntries",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    ExecutionId = table.Column<long>(type: "bigint", nullable: false),
                    AttemptNumber = table.Column<int>(type: "int", nullable: false),
                    Stream = table.Column<int>(type: "int", nullable: false),
                    At = table.Column<long>(type: "bigint", nullable: false),
                    Text = table.Column<string>(type: "nvarchar(max)", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_LogEntries", x => x.Id);
                    table.ForeignKey(
                        name: "FK_LogEntries_Executions_ExecutionId",
                        column: x => x.ExecutionId,
                        principalTable: "Executions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "StateChanges",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    ExecutionId = table.Column<long>(type: "bigint", nullable: false),
                    At = table.Column<long>(type: "bigint", nullable: false),
                    From = table.Column<int>(type: "int", nullable: true),
                    To = table.Column<int>(type: "int", nullable: false),
                    Transition = table.Column<string>(type: "nvarchar(40)", maxLength: 40, nullable: false),
                    NodeId = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: true),
                    Reason = table.Column<string>(type: "nvarchar(max)", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_StateChanges", x => x.Id);
                    table.ForeignKey(
                        name: "FK_StateChanges_Executions_ExecutionId",
                        column: x => x.ExecutionId,
                        principalTable: "Executions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "WorkTasks",
                columns: table => new
                {
                    ExecutionId = table.Column<long>(type: "bigint", nullable: false),
                    WorkTaskId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: true),
                    Type = table.Column<string>(type: "nvarchar(100)", maxLength: 100, nullable: false),
                    ProjectId = table.Column<string>(type: "nvarchar(200)", maxLength: 200, nullable: false),
                    Binding = table.Column<int>(type: "int", nullable: false),
                    TaskSpecJson = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    ResourceRequirementsJson = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    DataAccessJson = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    OutputLocation = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    MetadataJson = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    RetryReason = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    KubernetesJobName = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    ClusterName = table.Column<string>(type: "nvarchar(max)", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_WorkTasks", x => x.ExecutionId);
                    table.ForeignKey(
                        name: "FK_WorkTasks_Executions_ExecutionId",
                        column: x => x.ExecutionId,
                        principalTable: "Executions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Attempts_FinishedAt_Outcome",
                table: "Attempts",
                columns: new[] { "FinishedAt", "Outcome" });

            migrationBuilder.CreateIndex(
                name: "IX_DagEdges_ChildExecutionId",
                table: "DagEdges",
                column: "ChildExecutionId");

            migrationBuilder.CreateIndex(
                name: "IX_DagEdges_ParentExecutionId",
                table: "DagEdges",
                column: "ParentExecutionId");

            migrationBuilder.CreateIndex(
                name: "IX_DagRuns_State_Id",
                table: "DagRuns",
                columns: new[] { "State", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_DagRunStateChanges_DagRunId_Id",
                table: "DagRunStateChanges",
                columns: new[] { "DagRunId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_CreatedAt",
                table: "Executions",
                column: "CreatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_Executions_DagRunId_DagTaskName",
                table: "Executions",
                columns: new[] { "DagRunId", "DagTaskName" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_FinishedAt_State",
                table: "Executions",
                columns: new[] { "FinishedAt", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_Name_State",
                table: "Executions",
                columns: new[] { "Name", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_NodeId_State",
                table: "Executions",
                columns: new[] { "NodeId", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_Queue_State",
                table: "Executions",
                columns: new[] { "Queue", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_State_Id",
                table: "Executions",
                columns: new[] { "State", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Executions_TaskId",
                table: "Executions",
                column: "TaskId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_LogEntries_ExecutionId_AttemptNumber_Id",
                table: "LogEntries",
                columns: new[] { "ExecutionId", "AttemptNumber", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_StateChanges_ExecutionId_Id",
                table: "StateChanges",
                columns: new[] { "ExecutionId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_WorkerNodes_HeartbeatAt",
                table: "WorkerNodes",
                column: "HeartbeatAt");

            migrationBuilder.CreateIndex(
                name: "IX_WorkTasks_ProjectId",
                table: "WorkTasks",
                column: "ProjectId");

            migrationBuilder.CreateIndex(
                name: "IX_WorkTasks_Type",
                table: "WorkTasks",
                column: "Type");

            migrationBuilder.CreateIndex(
                name: "IX_WorkTasks_WorkTaskId",
                table: "WorkTasks",
                column: "WorkTaskId",
                unique: true,
                filter: "[WorkTaskId] IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Attempts");

            migrationBuilder.DropTable(
                name: "DagEdges");

            migrationBuilder.DropTable(
                name: "DagRunStateChanges");

            migrationBuilder.DropTable(
                name: "LogEntries");

            migrationBuilder.DropTable(
                name: "MetricSamples");

            migrationBuilder.DropTable(
                name: "StateChanges");

            migrationBuilder.DropTable(
                name: "WorkerNodes");

            migrationBuilder.DropTable(
                name: "WorkTasks");

            migrationBuilder.DropTable(
                name: "DagRuns");

            migrationBuilder.DropTable(
                name: "Executions");
        }
    }
}
