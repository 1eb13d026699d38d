using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Taskdeck.Data.Migrations.PostgreSql
{
    /// <summary>
    /// Every statement that inserts state changes notifies <c>taskdeck_state_changes</c> with the distinct node ids of its
    /// rows (at commit; PostgreSQL folds a transaction's identical notifies into one), so other nodes' change followers
    /// wake at once instead of at their next poll. PostgreSQL only, no model change: the other providers poll.
    /// </summary>
    public partial class StateChangesNotify : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE FUNCTION "StateChangesNotify"() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE nodes text;
                BEGIN
                    SELECT string_agg(DISTINCT COALESCE("NodeId", ''), ',') INTO nodes FROM inserted;
                    IF nodes IS NOT NULL THEN
                        -- A notify's payload is limited to 8000 bytes; a cut list still names another node.
                        PERFORM pg_notify('taskdeck_state_changes', left(nodes, 7000));
                    END IF;
                    RETURN NULL;
                END
                $$;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER "StateChangesNotify" AFTER INSERT ON "StateChanges"
                    REFERENCING NEW TABLE AS inserted
                    FOR EACH STATEMENT EXECUTE FUNCTION "StateChangesNotify"();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""DROP TRIGGER IF EXISTS "StateChangesNotify" ON "StateChanges";""");
            migrationBuilder.Sql("""DROP FUNCTION IF EXISTS "StateChangesNotify"();""");
        }
    }
}
