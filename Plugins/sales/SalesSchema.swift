import CRMPluginKit

/// The sales tables: one column per field, so lists, forecasts and stage
/// statistics are plain SQL over indexes. Times are UTC microseconds, money
/// integer minor units, dates "YYYY-MM-DD" text (which sorts as dates).
enum SalesSchema {
    static func register(on def: PluginDefinition) {
        def.migration(1, "leads", """
            CREATE TABLE sales_leads (
                id INTEGER PRIMARY KEY,
                first_name TEXT NOT NULL,
                last_name TEXT NOT NULL,
                email TEXT NOT NULL,
                phone TEXT NOT NULL,
                company TEXT NOT NULL,
                job_title TEXT NOT NULL,
                source TEXT NOT NULL,
                status INTEGER NOT NULL,
                owner TEXT NOT NULL,
                notes TEXT NOT NULL,
                disqualified_reason TEXT NOT NULL,
                person_id INTEGER NOT NULL,
                organization_id INTEGER NOT NULL,
                opportunity_id INTEGER NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE INDEX sales_leads_by_status ON sales_leads (status, id);
            CREATE INDEX sales_leads_by_owner ON sales_leads (owner, id);
            CREATE INDEX sales_leads_by_source ON sales_leads (source, id);
            CREATE INDEX sales_leads_by_person ON sales_leads (person_id);
            """)
        // Won and lost are outcomes, not stages: a pipeline's stages are its open ones.
        def.migration(2, "pipelines", """
            CREATE TABLE sales_pipelines (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                name_key TEXT NOT NULL UNIQUE,
                is_default INTEGER NOT NULL);
            CREATE TABLE sales_stages (
                id INTEGER PRIMARY KEY,
                pipeline_id INTEGER NOT NULL REFERENCES sales_pipelines (id),
                name TEXT NOT NULL,
                probability INTEGER NOT NULL,
                position INTEGER NOT NULL,
                UNIQUE (pipeline_id, position));
            INSERT INTO sales_pipelines (id, name, name_key, is_default) VALUES (1, 'Sales', 'sales', 1);
            INSERT INTO sales_stages (pipeline_id, name, probability, position) VALUES
                (1, 'Qualification', 10, 1), (1, 'Needs analysis', 25, 2), (1, 'Proposal', 50, 3), (1, 'Negotiation', 75, 4);
            """)
        def.migration(3, "opportunities", """
            CREATE TABLE sales_opportunities (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                pipeline_id INTEGER NOT NULL,
                stage_id INTEGER NOT NULL,
                probability INTEGER NOT NULL,
                status INTEGER NOT NULL,
                amount_minor INTEGER NOT NULL,
                currency TEXT NOT NULL,
                expected_close_date TEXT NOT NULL,
                owner TEXT NOT NULL,
                person_id INTEGER NOT NULL,
                organization_id INTEGER NOT NULL,
                lead_id INTEGER NOT NULL,
                lost_reason TEXT NOT NULL,
                closed_us INTEGER NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE INDEX sales_opportunities_by_pipeline ON sales_opportunities (pipeline_id, id);
            CREATE INDEX sales_opportunities_by_stage ON sales_opportunities (stage_id, id);
            CREATE INDEX sales_opportunities_by_status ON sales_opportunities (status, id);
            CREATE INDEX sales_opportunities_by_owner ON sales_opportunities (owner, id);
            CREATE INDEX sales_opportunities_by_person ON sales_opportunities (person_id, id);
            CREATE INDEX sales_opportunities_by_organization ON sales_opportunities (organization_id, id);
            CREATE INDEX sales_opportunities_by_close_date ON sales_opportunities (status, expected_close_date);
            CREATE TABLE sales_stage_history (
                id INTEGER PRIMARY KEY,
                opportunity_id INTEGER NOT NULL,
                stage_id INTEGER NOT NULL,
                stage_name TEXT NOT NULL,
                entered_us INTEGER NOT NULL,
                left_us INTEGER NOT NULL);
            CREATE INDEX sales_stage_history_by_opportunity ON sales_stage_history (opportunity_id, id);
            CREATE INDEX sales_stage_history_by_stage ON sales_stage_history (stage_id, opportunity_id);
            """)
        def.migration(4, "activities", """
            CREATE TABLE sales_activities (
                id INTEGER PRIMARY KEY,
                type INTEGER NOT NULL,
                subject TEXT NOT NULL,
                notes TEXT NOT NULL,
                owner TEXT NOT NULL,
                due_us INTEGER NOT NULL,
                completed_us INTEGER NOT NULL,
                lead_id INTEGER NOT NULL,
                person_id INTEGER NOT NULL,
                opportunity_id INTEGER NOT NULL,
                created_us INTEGER NOT NULL);
            CREATE INDEX sales_activities_by_lead ON sales_activities (lead_id, id);
            CREATE INDEX sales_activities_by_person ON sales_activities (person_id, id);
            CREATE INDEX sales_activities_by_opportunity ON sales_activities (opportunity_id, id);
            CREATE INDEX sales_activities_by_owner ON sales_activities (owner, completed_us, id);
            CREATE INDEX sales_activities_follow_ups ON sales_activities (owner, completed_us, due_us, id);
            """)
        // Round-robin: next_index points into the members, in position order.
        def.migration(5, "teams", """
            CREATE TABLE sales_teams (
                name TEXT PRIMARY KEY,
                next_index INTEGER NOT NULL);
            CREATE TABLE sales_team_members (
                team TEXT NOT NULL REFERENCES sales_teams (name),
                position INTEGER NOT NULL,
                member TEXT NOT NULL,
                PRIMARY KEY (team, position));
            """)
        def.migration(6, "lead conversions", """
            CREATE TABLE sales_lead_conversions (
                lead_id INTEGER PRIMARY KEY,
                idempotency_key TEXT NOT NULL UNIQUE,
                person_id INTEGER NOT NULL,
                organization_id INTEGER NOT NULL,
                opportunity_id INTEGER NOT NULL,
                converted_us INTEGER NOT NULL);
            CREATE INDEX sales_lead_conversions_by_person ON sales_lead_conversions (person_id);
            """)
        def.migration(7, "idempotency", IdempotencyKeys.createTableSQL("sales_idempotency"))
        // Each key's request fingerprint, so a key reused for another request is refused.
        def.migration(8, "idempotency fingerprints", IdempotencyKeys.addFingerprintSQL("sales_idempotency")
            + " ALTER TABLE sales_lead_conversions ADD COLUMN fingerprint BLOB;")
        // The account roll-up sums an organization's open and won amounts
        // per currency (AccountRollups): covered by this index, it reads
        // no table row (100,000 deals over 1,000 organizations, see
        // b2b_rollup_bench.sh for the figures with and without it).
        def.migration(9, "roll-up index", """
            CREATE INDEX sales_opportunities_rollup ON sales_opportunities
                (organization_id, status, currency, amount_minor, probability, owner);
            """)
        // Each organization's totals per status and currency, kept by
        // triggers on every write of an opportunity (whatever code path
        // makes it: create, move, win, lose, merge), so a roll-up over a
        // large hierarchy reads a few rows per organization instead of
        // every opportunity. The CHECK refuses a total that would leave
        // int64 (SQLite would make it a float).
        def.migration(10, "organization totals", """
            CREATE TABLE sales_organization_totals (
                organization_id INTEGER NOT NULL,
                status INTEGER NOT NULL,
                currency TEXT NOT NULL,
                count INTEGER NOT NULL,
                amount_minor INTEGER NOT NULL,
                weighted_minor INTEGER NOT NULL,
                PRIMARY KEY (organization_id, status, currency),
                CHECK (typeof(amount_minor) = 'integer' AND typeof(weighted_minor) = 'integer')) WITHOUT ROWID;
            INSERT INTO sales_organization_totals
                SELECT organization_id, status, currency, count(*), sum(amount_minor), sum(amount_minor * probability / 100)
                FROM sales_opportunities WHERE organization_id > 0 GROUP BY organization_id, status, currency;
            CREATE TRIGGER sales_organization_totals_insert AFTER INSERT ON sales_opportunities WHEN NEW.organization_id > 0
            BEGIN
                INSERT INTO sales_organization_totals VALUES
                    (NEW.organization_id, NEW.status, NEW.currency, 1, NEW.amount_minor, NEW.amount_minor * NEW.probability / 100)
                ON CONFLICT (organization_id, status, currency) DO UPDATE SET count = count + 1,
                    amount_minor = amount_minor + excluded.amount_minor, weighted_minor = weighted_minor + excluded.weighted_minor;
            END;
            CREATE TRIGGER sales_organization_totals_delete AFTER DELETE ON sales_opportunities WHEN OLD.organization_id > 0
            BEGIN
                UPDATE sales_organization_totals SET count = count - 1, amount_minor = amount_minor - OLD.amount_minor,
                    weighted_minor = weighted_minor - OLD.amount_minor * OLD.probability / 100
                WHERE organization_id = OLD.organization_id AND status = OLD.status AND currency = OLD.currency;
            END;
            CREATE TRIGGER sales_organization_totals_update AFTER UPDATE OF organization_id, status, currency, amount_minor, probability
            ON sales_opportunities
            -- A save writes every column: only a change of these moves the totals.
            WHEN OLD.organization_id IS NOT NEW.organization_id OR OLD.status IS NOT NEW.status
              OR OLD.currency IS NOT NEW.currency OR OLD.amount_minor IS NOT NEW.amount_minor
              OR OLD.probability IS NOT NEW.probability
            BEGIN
                UPDATE sales_organization_totals SET count = count - 1, amount_minor = amount_minor - OLD.amount_minor,
                    weighted_minor = weighted_minor - OLD.amount_minor * OLD.probability / 100
                WHERE OLD.organization_id > 0 AND organization_id = OLD.organization_id AND status = OLD.status AND currency = OLD.currency;
                INSERT INTO sales_organization_totals
                    SELECT NEW.organization_id, NEW.status, NEW.currency, 1, NEW.amount_minor, NEW.amount_minor * NEW.probability / 100
                    WHERE NEW.organization_id > 0
                ON CONFLICT (organization_id, status, currency) DO UPDATE SET count = count + 1,
                    amount_minor = amount_minor + excluded.amount_minor, weighted_minor = weighted_minor + excluded.weighted_minor;
            END;
            """)
    }
}
