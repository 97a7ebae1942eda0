import CRMPluginKit

/// Record scope on the timeline. A timeline gathers other records' events
/// (an opportunity won, a colleague's contact at the same organization),
/// and showing them to whoever may open the timeline would leak records
/// the caller cannot open (EspoCRM's stream did). So each entry remembers
/// its source: the record the event is about (its subject, as the
/// publisher named it with publish(about:)), and it is listed only when
/// the caller's scope for "<source entity>.read" reaches that record's
/// current owner (the owner of the latest event about it).
///
/// An entry from an event without a subject (a publisher that names none,
/// and every entry filed before sources were kept) follows the timeline's
/// own record: whoever may open this person's or organization's timeline
/// sees it.
enum TimelineScope {
    /// Remembers the source's owner as of its latest event, and its entity.
    static func noteSource(_ db: Database, _ source: EventSubject) throws {
        guard !source.entity.isEmpty, !source.recordID.isEmpty else { return }
        try db.execute("""
            INSERT INTO contacts_timeline_sources (entity, record_id, owner) VALUES (?, ?, ?)
            ON CONFLICT (entity, record_id) DO UPDATE SET owner = excluded.owner WHERE owner IS NOT excluded.owner
            """, [.text(source.entity), .text(source.recordID), source.owner.map { .text($0) } ?? .null])
        try db.execute("INSERT INTO contacts_timeline_entities (entity) VALUES (?) ON CONFLICT (entity) DO NOTHING",
                       [.text(source.entity)])
    }

    /// The condition on timeline rows `t` joined with their source `src`
    /// (LEFT JOIN contacts_timeline_sources src ON src.entity = t.source_entity
    /// AND src.record_id = t.source_id) that keeps the entries the caller
    /// may see: one scope per source entity, asked of crmd.
    static func condition(_ ctx: CallContext, _ db: Database) throws -> (sql: String, parameters: [SQLValue]) {
        var everything: [SQLValue] = []
        var parts = ["t.source_entity = ''"]
        var parameters: [SQLValue] = []
        for row in try db.query("SELECT entity FROM contacts_timeline_entities ORDER BY entity") {
            guard let entity = row[0].string else { continue }
            let scope = ctx.scope(for: entity + ".read")
            switch scope.reach {
            case .all: everything.append(.text(entity))
            case .none: continue
            case .own, .team:
                let owned = scope.condition(ownerColumn: "src.owner")
                parts.append("(t.source_entity = ? AND \(owned.sql))")
                parameters += [.text(entity)] + owned.parameters
            }
        }
        if !everything.isEmpty {
            parts.insert("t.source_entity IN (\(Array(repeating: "?", count: everything.count).joined(separator: ", ")))", at: 1)
            parameters = everything + parameters
        }
        return (parts.joined(separator: " OR "), parameters)
    }
}
