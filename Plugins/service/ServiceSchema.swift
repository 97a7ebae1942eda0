import CRMPluginKit

/// The service tables. A ticket is one row with a column per field its
/// queues filter or sort on; its tags, custom fields and followers live in
/// child tables (indexed for the SLA and routing parts to match on) and,
/// for reads, also in `extras` (the three as protobuf bytes), so a queue
/// page is one index range and no per-ticket query.
///
/// `bucket` groups statuses for queue views (1 unsolved: new, open,
/// pending, on hold; 2 solved; 3 closed, merged included) and `urgency` is
/// 5 - priority (1 urgent .. 4 low), so "priority first, then age" is the
/// ascending order (urgency, id): ids grow with creation and tickets are
/// never deleted. Each queue view is an index range in that order
/// (docs/SERVICE.md "Queues and indexes"). `sla_due_us` is the SLA due
/// time and `sla_rank` its queue order key (migration 7).
enum ServiceSchema {
    static func register(on def: PluginDefinition) {
        def.migration(1, "tickets", """
            CREATE TABLE service_tickets (
                id INTEGER PRIMARY KEY,
                subject TEXT NOT NULL,
                description TEXT NOT NULL,
                requester_id INTEGER NOT NULL,
                organization_id INTEGER NOT NULL,
                channel INTEGER NOT NULL,
                type INTEGER NOT NULL,
                priority INTEGER NOT NULL,
                urgency INTEGER NOT NULL,
                status INTEGER NOT NULL,
                bucket INTEGER NOT NULL,
                assignee TEXT NOT NULL,
                team TEXT NOT NULL,
                merged_into_id INTEGER NOT NULL,
                follow_up_of_id INTEGER NOT NULL,
                extras BLOB NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL,
                status_changed_us INTEGER NOT NULL,
                first_response_us INTEGER NOT NULL,
                last_agent_reply_us INTEGER NOT NULL,
                last_customer_reply_us INTEGER NOT NULL,
                solved_us INTEGER NOT NULL,
                closed_us INTEGER NOT NULL,
                reopen_count INTEGER NOT NULL,
                sla_due_us INTEGER NOT NULL);
            CREATE INDEX service_tickets_queue_team ON service_tickets (team, bucket, urgency, id, assignee);
            CREATE INDEX service_tickets_queue_team_assignee ON service_tickets (team, assignee, bucket, urgency, id);
            CREATE INDEX service_tickets_queue_assignee ON service_tickets (assignee, bucket, urgency, id, team);
            CREATE INDEX service_tickets_queue_all ON service_tickets (bucket, urgency, id, assignee, team);
            CREATE INDEX service_tickets_by_status ON service_tickets (status, urgency, id, assignee, team);
            CREATE INDEX service_tickets_by_requester ON service_tickets (requester_id, id);
            CREATE INDEX service_tickets_by_organization ON service_tickets (organization_id, id);
            CREATE INDEX service_tickets_by_merged_into ON service_tickets (merged_into_id);
            CREATE TABLE service_ticket_tags (
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                tag TEXT NOT NULL,
                PRIMARY KEY (ticket_id, tag));
            CREATE INDEX service_ticket_tags_by_tag ON service_ticket_tags (tag, ticket_id);
            CREATE TABLE service_ticket_followers (
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                user TEXT NOT NULL,
                PRIMARY KEY (ticket_id, user));
            CREATE INDEX service_ticket_followers_by_user ON service_ticket_followers (user, ticket_id);
            """)
        // Definitions are shared configuration; values are text checked
        // against the definition's type when written.
        def.migration(2, "custom fields", """
            CREATE TABLE service_custom_fields (
                key TEXT PRIMARY KEY,
                label TEXT NOT NULL,
                type INTEGER NOT NULL,
                options TEXT NOT NULL,
                required INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE TABLE service_ticket_fields (
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                key TEXT NOT NULL REFERENCES service_custom_fields (key),
                value TEXT NOT NULL,
                PRIMARY KEY (ticket_id, key));
            CREATE INDEX service_ticket_fields_by_key ON service_ticket_fields (key, value, ticket_id);
            """)
        // A message stays one row through merges: ticket_id follows the
        // survivor, original_ticket_id keeps where it was written.
        def.migration(3, "messages", """
            CREATE TABLE service_messages (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                original_ticket_id INTEGER NOT NULL,
                kind INTEGER NOT NULL,
                author_kind INTEGER NOT NULL,
                author_user TEXT NOT NULL,
                author_person_id INTEGER NOT NULL,
                body TEXT NOT NULL,
                created_us INTEGER NOT NULL);
            CREATE INDEX service_messages_by_ticket ON service_messages (ticket_id, kind, id);
            CREATE INDEX service_messages_by_ticket_all ON service_messages (ticket_id, id);
            CREATE INDEX service_messages_by_person ON service_messages (author_person_id, id);
            """)
        // RELATED is stored once, smaller id first; PARENT_OF and
        // DUPLICATE_OF as named (ticket_id is the parent / the duplicate).
        def.migration(4, "links", """
            CREATE TABLE service_links (
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                kind INTEGER NOT NULL,
                other_id INTEGER NOT NULL REFERENCES service_tickets (id),
                created_us INTEGER NOT NULL,
                PRIMARY KEY (ticket_id, kind, other_id));
            CREATE INDEX service_links_by_other ON service_links (other_id, kind, ticket_id);
            """)
        // A team's roster: who works its queue (and, later, routing's
        // availability, capacity and skills per agent).
        def.migration(5, "teams", """
            CREATE TABLE service_teams (
                name TEXT PRIMARY KEY,
                updated_us INTEGER NOT NULL);
            CREATE TABLE service_team_agents (
                team TEXT NOT NULL REFERENCES service_teams (name),
                agent TEXT NOT NULL,
                PRIMARY KEY (team, agent));
            CREATE INDEX service_team_agents_by_agent ON service_team_agents (agent, team);
            """)
        def.migration(6, "idempotency", IdempotencyKeys.createTableSQL("service_idempotency")
            + IdempotencyKeys.addFingerprintSQL("service_idempotency"))
        // SLA (docs/SERVICE.md "SLA"). sla_rank is the queue order key of
        // QUEUE_ORDER_SLA_DUE: the due time, or the largest integer without
        // one, so tickets without a running clock sort last. Each queue
        // index has an SLA sibling with sla_rank in place of urgency.
        // Calendars and policies keep their details as message bytes; the
        // history is append-only; the clock rows are derived from it, and
        // next_fire_us (the next warning or breach time, 0 for none) is
        // what the timer job reads, by index, instead of scanning tickets.
        def.migration(7, "sla", """
            ALTER TABLE service_tickets ADD COLUMN sla_rank INTEGER NOT NULL DEFAULT 9223372036854775807;
            CREATE INDEX service_tickets_sla_team ON service_tickets (team, bucket, sla_rank, id, assignee);
            CREATE INDEX service_tickets_sla_team_assignee ON service_tickets (team, assignee, bucket, sla_rank, id);
            CREATE INDEX service_tickets_sla_assignee ON service_tickets (assignee, bucket, sla_rank, id, team);
            CREATE INDEX service_tickets_sla_all ON service_tickets (bucket, sla_rank, id, assignee, team);
            CREATE TABLE service_sla_calendars (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                definition BLOB NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE TABLE service_sla_policies (
                id INTEGER PRIMARY KEY,
                position INTEGER NOT NULL,
                calendar_id INTEGER NOT NULL REFERENCES service_sla_calendars (id),
                definition BLOB NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE INDEX service_sla_policies_order ON service_sla_policies (position, id);
            CREATE INDEX service_sla_policies_by_calendar ON service_sla_policies (calendar_id, id);
            CREATE TABLE service_sla_history (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                kind INTEGER NOT NULL,
                clock INTEGER NOT NULL,
                policy_id INTEGER NOT NULL,
                at_us INTEGER NOT NULL);
            CREATE INDEX service_sla_history_by_ticket ON service_sla_history (ticket_id, id);
            CREATE TABLE service_sla_clocks (
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                kind INTEGER NOT NULL,
                cycle INTEGER NOT NULL,
                state INTEGER NOT NULL,
                started_us INTEGER NOT NULL,
                stopped_us INTEGER NOT NULL,
                target_minutes INTEGER NOT NULL,
                due_us INTEGER NOT NULL,
                warn_us INTEGER NOT NULL,
                business_us INTEGER NOT NULL,
                warned INTEGER NOT NULL,
                breach_fired INTEGER NOT NULL,
                breached INTEGER NOT NULL,
                next_fire_us INTEGER NOT NULL,
                outcome_us INTEGER NOT NULL,
                team TEXT NOT NULL,
                agent TEXT NOT NULL,
                policy_id INTEGER NOT NULL,
                PRIMARY KEY (ticket_id, kind, cycle));
            CREATE INDEX service_sla_clocks_fire ON service_sla_clocks (next_fire_us);
            CREATE INDEX service_sla_clocks_outcome ON service_sla_clocks (outcome_us);
            """)
        // Routing (docs/SERVICE.md "Routing"). An agent's availability,
        // capacity and skills are theirs across teams (one row per CRM
        // user, none until set: OFFLINE). A team's routing row holds its
        // mode, its escalation rules (message bytes) and the round-robin
        // position: the last agent routed to, advanced in the assigning
        // transaction, so the order survives restarts. service_agent_load
        // counts each agent's unsolved tickets, kept by TicketStore on every
        // ticket write, so capacity and least-open cost one seek per agent
        // however many tickets an agent holds.
        def.migration(8, "routing", """
            CREATE TABLE service_agents (
                agent TEXT PRIMARY KEY,
                availability INTEGER NOT NULL,
                max_open INTEGER NOT NULL,
                skills TEXT NOT NULL,
                availability_changed_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE TABLE service_team_routing (
                team TEXT PRIMARY KEY REFERENCES service_teams (name),
                mode INTEGER NOT NULL,
                require_skills INTEGER NOT NULL,
                definition BLOB NOT NULL,
                last_assigned TEXT NOT NULL,
                version INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE INDEX service_team_routing_by_mode ON service_team_routing (mode, team);
            CREATE TABLE service_agent_load (
                agent TEXT PRIMARY KEY,
                open INTEGER NOT NULL);
            INSERT INTO service_agent_load (agent, open)
                SELECT assignee, COUNT(*) FROM service_tickets WHERE assignee <> '' AND bucket = 1 GROUP BY assignee;
            """)
        // Macros: shared configuration, the actions as message bytes;
        // deleted ones stay (deleted_us) so an applied macro's id keeps its
        // meaning in the audit trail. A macro run keeps the answer an
        // idempotency key gives back (ApplyMacro, ApplyMacroToTickets).
        def.migration(9, "macros", """
            CREATE TABLE service_macros (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                definition BLOB NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL,
                deleted_us INTEGER NOT NULL);
            CREATE INDEX service_macros_by_name ON service_macros (deleted_us, name, id);
            CREATE TABLE service_macro_runs (
                id INTEGER PRIMARY KEY,
                response BLOB NOT NULL,
                created_us INTEGER NOT NULL);
            """)
    }
}
