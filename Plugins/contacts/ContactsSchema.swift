import CRMPluginKit

/// The contacts tables. A record's protobuf is stored whole in `data`; the
/// other columns and `contacts_search` exist to filter, sort and find, and
/// are rewritten from the record on every save.
enum ContactsSchema {
    static func register(on def: PluginDefinition) {
        def.migration(1, "people", """
            CREATE TABLE contacts_people (
                id INTEGER PRIMARY KEY,
                data BLOB NOT NULL,
                name_key TEXT NOT NULL,
                organization_id INTEGER NOT NULL,
                owner TEXT NOT NULL,
                lifecycle_stage INTEGER NOT NULL,
                external_id TEXT,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL,
                deleted_us INTEGER NOT NULL,
                merged_into INTEGER NOT NULL,
                erased_us INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX contacts_people_by_name ON contacts_people (deleted_us, name_key, id);
            CREATE INDEX contacts_people_by_created ON contacts_people (deleted_us, created_us, id);
            CREATE INDEX contacts_people_by_updated ON contacts_people (deleted_us, updated_us, id);
            CREATE INDEX contacts_people_by_organization ON contacts_people (organization_id, deleted_us, name_key, id);
            CREATE INDEX contacts_people_by_owner ON contacts_people (owner, deleted_us, name_key, id);
            CREATE INDEX contacts_people_by_stage ON contacts_people (lifecycle_stage, deleted_us, name_key, id);
            CREATE UNIQUE INDEX contacts_people_by_external_id ON contacts_people (external_id);
            """)
        def.migration(2, "organizations", """
            CREATE TABLE contacts_organizations (
                id INTEGER PRIMARY KEY,
                data BLOB NOT NULL,
                name_key TEXT NOT NULL,
                owner TEXT NOT NULL,
                external_id TEXT,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL,
                deleted_us INTEGER NOT NULL,
                merged_into INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX contacts_organizations_by_name ON contacts_organizations (deleted_us, name_key, id);
            CREATE INDEX contacts_organizations_by_owner ON contacts_organizations (owner, deleted_us, name_key, id);
            CREATE UNIQUE INDEX contacts_organizations_by_external_id ON contacts_organizations (external_id);
            """)
        // kind: n = name key, e = email, p = phone, t = tag, f = fuzzy name at an organization.
        def.migration(3, "search", """
            CREATE TABLE contacts_search (
                entity INTEGER NOT NULL,
                kind TEXT NOT NULL,
                key TEXT NOT NULL,
                record_id INTEGER NOT NULL,
                PRIMARY KEY (entity, kind, key, record_id));
            CREATE INDEX contacts_search_by_record ON contacts_search (record_id, entity);
            """)
        def.migration(4, "custom fields", """
            CREATE TABLE contacts_field_definitions (
                entity INTEGER NOT NULL,
                key TEXT NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (entity, key));
            """)
        def.migration(5, "timeline", """
            CREATE TABLE contacts_timeline (
                id INTEGER PRIMARY KEY,
                entity INTEGER NOT NULL,
                record_id INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                topic TEXT NOT NULL,
                publisher TEXT NOT NULL,
                type_name TEXT NOT NULL,
                occurred_us INTEGER NOT NULL,
                summary TEXT NOT NULL,
                payload BLOB NOT NULL);
            CREATE UNIQUE INDEX contacts_timeline_by_record ON contacts_timeline (entity, record_id, sequence);
            """)
        def.migration(6, "idempotency", IdempotencyKeys.createTableSQL("contacts_idempotency"))
        // What was erased, when, by whom and why: never the personal data itself.
        def.migration(7, "audit", """
            CREATE TABLE contacts_audit (
                id INTEGER PRIMARY KEY,
                action TEXT NOT NULL,
                entity INTEGER NOT NULL,
                record_id INTEGER NOT NULL,
                at_us INTEGER NOT NULL,
                actor_uid INTEGER NOT NULL,
                actor_plugin TEXT NOT NULL,
                reason TEXT NOT NULL);
            """)
        // The first sequence from which contacts files its own events on the
        // timeline as it publishes them (see TimelineFiling); NULL until then.
        def.migration(8, "timeline filing", """
            CREATE TABLE contacts_timeline_state (id INTEGER PRIMARY KEY CHECK (id = 1), inline_from INTEGER);
            INSERT INTO contacts_timeline_state (id, inline_from) VALUES (1, NULL);
            """)
        // Each key's request fingerprint, so a key reused for another request is refused.
        def.migration(9, "idempotency fingerprints", IdempotencyKeys.addFingerprintSQL("contacts_idempotency"))
        // Record scope on the timeline (TimelineScope): each entry's source
        // record (the event's subject; '' for an event without one) and each
        // source's current owner, kept apart so a change of owner is one row.
        // The sequence index lets erasure find every copy of an event.
        def.migration(10, "timeline sources", """
            ALTER TABLE contacts_timeline ADD COLUMN source_entity TEXT NOT NULL DEFAULT '';
            ALTER TABLE contacts_timeline ADD COLUMN source_id TEXT NOT NULL DEFAULT '';
            CREATE INDEX contacts_timeline_by_source ON contacts_timeline (source_entity, source_id);
            CREATE INDEX contacts_timeline_by_sequence ON contacts_timeline (sequence);
            CREATE TABLE contacts_timeline_sources (
                entity TEXT NOT NULL,
                record_id TEXT NOT NULL,
                owner TEXT,
                PRIMARY KEY (entity, record_id));
            CREATE TABLE contacts_timeline_entities (entity TEXT PRIMARY KEY);
            """)
        // The account hierarchy (OrganizationHierarchy): each organization's
        // parent, indexed for the walk down to its subsidiaries.
        def.migration(11, "organization parents", """
            ALTER TABLE contacts_organizations ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX contacts_organizations_by_parent ON contacts_organizations (parent_id, id);
            """)
    }
}

/// The entity column's values, shared by search keys, tags, custom fields and the timeline.
enum EntityKind: Int64 {
    case person = 1, organization = 2
}
