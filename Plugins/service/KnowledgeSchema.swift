import CRMPluginKit

/// The knowledge base's tables (migration 10). An article row holds its
/// latest revision's title and body (what writers see); every revision,
/// the latest too, is a row of service_kb_revisions, and readers get the
/// live one from there. The search index is the engine's own
/// (`KnowledgeBase.index.schemaSQL`): FTS5 today, another engine's tables later.
enum KnowledgeSchema {
    static func register(on def: PluginDefinition) {
        def.migration(10, "knowledge base", """
            CREATE TABLE service_kb_categories (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE INDEX service_kb_categories_by_name ON service_kb_categories (name, id);
            CREATE TABLE service_kb_articles (
                id INTEGER PRIMARY KEY,
                category_id INTEGER NOT NULL,
                state INTEGER NOT NULL,
                author TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                revision INTEGER NOT NULL,
                live_revision INTEGER NOT NULL,
                updated_by TEXT NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL,
                published_us INTEGER NOT NULL,
                archived_us INTEGER NOT NULL);
            CREATE INDEX service_kb_articles_by_state ON service_kb_articles (state, id);
            CREATE INDEX service_kb_articles_by_category ON service_kb_articles (category_id, state, id);
            CREATE TABLE service_kb_revisions (
                article_id INTEGER NOT NULL REFERENCES service_kb_articles (id),
                number INTEGER NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                saved_by TEXT NOT NULL,
                saved_us INTEGER NOT NULL,
                PRIMARY KEY (article_id, number));
            """ + KnowledgeBase.index.schemaSQL)
    }
}
