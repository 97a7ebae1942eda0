import CRMPluginKit

/// The keys a record can be found by (`contacts_search`): recomputed from
/// the record on every save, so they never drift from its data.
struct SearchIndex {
    let db: Database

    struct Key: Hashable {
        let kind: String
        let key: String
    }

    /// Makes the record's keys exactly `keys`, touching only the rows that
    /// change: an update of one field rewrites one key, not all of them (each
    /// row is three B-tree entries, and every page written is in the commit).
    /// `fresh`: the record is new, so it has no keys to compare with.
    func replace(_ entity: EntityKind, _ id: Int64, with keys: Set<Key>, fresh: Bool = false) throws {
        var missing = keys.filter { !$0.key.isEmpty }
        if !fresh {
            // INDEXED BY: the key index would cover this query, and the planner
            // prefers it with entity alone known: a scan of every key of every record.
            let stored = try db.query("SELECT kind, key FROM contacts_search INDEXED BY contacts_search_by_record "
                                      + "WHERE record_id = ? AND entity = ?",
                                      [.integer(id), .integer(entity.rawValue)])
            for row in stored {
                let key = Key(kind: row[0].string ?? "", key: row[1].string ?? "")
                if missing.remove(key) == nil {
                    try db.execute("DELETE FROM contacts_search WHERE entity = ? AND kind = ? AND key = ? AND record_id = ?",
                                   [.integer(entity.rawValue), .text(key.kind), .text(key.key), .integer(id)])
                }
            }
        }
        guard !missing.isEmpty else { return }
        let insert = try db.prepare("INSERT INTO contacts_search (entity, kind, key, record_id) VALUES (?, ?, ?, ?)")
        defer { insert.finalize() }
        for key in missing {
            try insert.reset()
            try insert.bind([.integer(entity.rawValue), .text(key.kind), .text(key.key), .integer(id)])
            while try insert.step() {}
        }
    }

    func delete(_ entity: EntityKind, _ id: Int64) throws {
        try db.execute("DELETE FROM contacts_search WHERE record_id = ? AND entity = ?", [.integer(id), .integer(entity.rawValue)])
    }

    static func keys(for person: Person) -> Set<Key> {
        var keys: Set<Key> = []
        let first = Normalize.name(person.firstName), last = Normalize.name(person.lastName)
        // Both orders, so "smi" and "ada l" find Ada Lovelace-Smith.
        keys.insert(Key(kind: "n", key: [first, last].filter { !$0.isEmpty }.joined(separator: " ")))
        keys.insert(Key(kind: "n", key: [last, first].filter { !$0.isEmpty }.joined(separator: " ")))
        for email in person.emails { keys.insert(Key(kind: "e", key: Normalize.email(email.address))) }
        for phone in person.phones { keys.insert(Key(kind: "p", key: Normalize.phone(phone.number))) }
        for tag in person.tags { keys.insert(Key(kind: "t", key: Tags.normalize(tag))) }
        if person.organizationID != 0, !last.isEmpty {
            // "Jon Smith" and "John Smith" at the same company: last name and first initial.
            keys.insert(Key(kind: "f", key: "\(person.organizationID)|\(last) \(first.prefix(1))"))
        }
        return keys
    }

    static func keys(for organization: Organization) -> Set<Key> {
        var keys: Set<Key> = [Key(kind: "n", key: Normalize.name(organization.name))]
        if !organization.domain.isEmpty { keys.insert(Key(kind: "d", key: organization.domain.lowercased())) }
        for phone in organization.phones { keys.insert(Key(kind: "p", key: Normalize.phone(phone.number))) }
        for tag in organization.tags { keys.insert(Key(kind: "t", key: Tags.normalize(tag))) }
        return keys
    }
}

/// Tags: free text, compared without case, stored as first written.
enum Tags {
    static func normalize(_ tag: String) -> String { Normalize.name(tag) }

    /// Trims, drops empty and repeated tags, checks lengths.
    static func clean(_ tags: [String], field: String) throws -> [String] {
        var seen: Set<String> = []
        var out: [String] = []
        for raw in tags {
            let tag = raw.trimmedSpaces
            guard !tag.isEmpty else { continue }
            try Validate.maxLength(tag, field, 64)
            if seen.insert(normalize(tag)).inserted { out.append(tag) }
        }
        guard out.count <= 100 else { throw PluginError.invalidArgument("\(field) has more than 100 tags") }
        return out
    }
}
