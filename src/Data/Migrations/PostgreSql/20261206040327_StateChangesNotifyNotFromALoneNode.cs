using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
{
    /// <summary>
    /// A statement that a node alone on the database writes notifies nobody: its writers then connect under an application
    /// name ending in <c>writer (alone)</c> (<c>WakeOtherNodes</c>), and the trigger returns before it aggregates the node
    /// ids and notifies. Every notifying commit takes PostgreSQL's database-wide notify-queue lock and wakes every
    /// listening session, the writing node's own listener included (BENCHMARKS.md, session 25: ≈ 7 % of one node's rate).
    /// PostgreSQL only, no model change.
    /// </summary>
    public partial class StateChangesNotifyNotFromALoneNode : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION "StateChangesNotify"() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE nodes text;
                BEGIN
                    IF current_setting('application_name') LIKE '% writer (alone)' THEN
                        RETURN NULL;
                    END IF;
                    SELECT string_agg(DISTINCT COALESCE("NodeId", ''), ',') INTO nodes FROM inserted;
                    IF nodes IS NOT NULL THEN
                        -- A notify's payload is limited to 8000 bytes; a cut list still names another node.
                        PERFORM pg_notify('taskdeck_state_changes', left(nodes, 7000));
                    END IF;
                    RETURN NULL;
                END
                $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION "StateChangesNotify"() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE nodes text;
                BEGIN
                    SELECT string_agg(DISTINCT COALESCE("NodeId", ''), ',') INTO nodes FROM inserted;
                    IF nodes IS NOT NULL THEN
                        PERFORM pg_notify('taskdeck_state_changes', left(nodes, 7000));
                    END IF;
                    RETURN NULL;
                END
                $$;
                """);
        }
    }
}
