import CRMPluginKit
import ContactsContract

/// The module's own copy of what rules read about people, kept from
/// contacts' events (and SyncPeople): marketing depends on contacts through
/// its events and methods, never its tables. A row is written only by a
/// version at least as new as the one it holds, so a late sync page never
/// undoes a newer event.
enum SegmentPeople {
    static let schema = """
        CREATE TABLE marketing_people (
            person_id INTEGER PRIMARY KEY,
            first_name TEXT NOT NULL COLLATE NOCASE,
            last_name TEXT NOT NULL COLLATE NOCASE,
            email TEXT NOT NULL COLLATE NOCASE,
            email_domain TEXT NOT NULL COLLATE NOCASE,
            job_title TEXT NOT NULL COLLATE NOCASE,
            source TEXT NOT NULL COLLATE NOCASE,
            owner TEXT NOT NULL COLLATE NOCASE,
            lifecycle_stage INTEGER NOT NULL,
            organization_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            live INTEGER NOT NULL,
            updated_us INTEGER NOT NULL);
        CREATE INDEX marketing_people_organization ON marketing_people (organization_id);
        CREATE INDEX marketing_people_email_domain ON marketing_people (email_domain);
        CREATE TABLE marketing_person_tags (
            person_id INTEGER NOT NULL,
            tag TEXT NOT NULL COLLATE NOCASE,
            PRIMARY KEY (person_id, tag)) WITHOUT ROWID;
        CREATE INDEX marketing_person_tags_tag ON marketing_person_tags (tag, person_id);
        CREATE TABLE marketing_person_fields (
            person_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL COLLATE NOCASE,
            type INTEGER NOT NULL,
            num REAL,
            PRIMARY KEY (person_id, key)) WITHOUT ROWID;
        CREATE INDEX marketing_person_fields_key ON marketing_person_fields (key, value);
        """

    /// Field types in marketing_person_fields.type.
    enum FieldType: Int64 { case text = 1, number = 2, date = 3, choice = 4 }

    static func isLive(_ person: Person) -> Bool {
        person.deletedUnixUs == 0 && person.mergedIntoID == 0 && person.erasedUnixUs == 0
    }

    /// Writes `person` unless the projection holds a newer version; true if written.
    @discardableResult
    static func upsert(_ db: Database, _ person: Person) throws -> Bool {
        guard person.id > 0 else { return false }
        let email = person.emails.first?.address.trimmedSpaces ?? ""
        let domain = email.split(separator: "@").count == 2 ? String(email.split(separator: "@")[1]).lowercased() : ""
        let live = isLive(person)
        try db.execute("""
            INSERT INTO marketing_people (person_id, first_name, last_name, email, email_domain, job_title, source, owner,
                lifecycle_stage, organization_id, version, live, updated_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (person_id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
                email = excluded.email, email_domain = excluded.email_domain, job_title = excluded.job_title,
                source = excluded.source, owner = excluded.owner, lifecycle_stage = excluded.lifecycle_stage,
                organization_id = excluded.organization_id, version = excluded.version, live = excluded.live,
                updated_us = excluded.updated_us
            WHERE excluded.version >= marketing_people.version
            """, [.integer(person.id), .text(person.firstName), .text(person.lastName), .text(email), .text(domain),
                  .text(person.jobTitle), .text(person.source), .text(person.owner),
                  .integer(Int64(person.lifecycleStage.rawValue)), .integer(person.organizationID),
                  .integer(person.version), .integer(live ? 1 : 0), .integer(UTCClock.nowMicros())])
        guard db.changes > 0 else { return false }
        // Only what changed is written: an update of one tag writes one row,
        // and every page written goes into the commit.
        var tags = Set(person.tags.map(\.trimmedSpaces))
        for row in try db.query("SELECT tag FROM marketing_person_tags WHERE person_id = ?", [.integer(person.id)]) {
            let tag = row[0].string ?? ""
            // The column compares without case, as the rules do: "VIP" stored, "vip" wanted is one row.
            if let kept = tags.first(where: { $0.caseInsensitiveCompare(tag) == .orderedSame }) {
                tags.remove(kept)
                if kept != tag {
                    try db.execute("UPDATE marketing_person_tags SET tag = ? WHERE person_id = ? AND tag = ?",
                                   [.text(kept), .integer(person.id), .text(tag)])
                }
            } else {
                try db.execute("DELETE FROM marketing_person_tags WHERE person_id = ? AND tag = ?",
                               [.integer(person.id), .text(tag)])
            }
        }
        if !tags.isEmpty {
            let insert = try db.prepare("INSERT OR IGNORE INTO marketing_person_tags (person_id, tag) VALUES (?, ?)")
            defer { insert.finalize() }
            for tag in tags {
                try insert.reset()
                try insert.bind([.integer(person.id), .text(tag)])
                while try insert.step() {}
            }
        }
        var fields: [String: (text: String, type: FieldType, number: SQLValue)] = [:]
        for (key, field) in person.customFields {
            let (text, type): (String, FieldType)
            switch field.value {
            case .text(let v)?: (text, type) = (v, .text)
            case .number(let v)?: (text, type) = (v, .number)
            case .date(let v)?: (text, type) = (v, .date)
            case .choice(let v)?: (text, type) = (v, .choice)
            case nil: continue
            }
            let number = type == .number ? Double(text).flatMap { $0.isFinite ? SQLValue.real($0) : nil } ?? .null : .null
            fields[key] = (text, type, number)
        }
        for row in try db.query("SELECT key, value, type FROM marketing_person_fields WHERE person_id = ?",
                                [.integer(person.id)]) {
            let key = row[0].string ?? ""
            if let wanted = fields[key], wanted.text == row[1].string, wanted.type.rawValue == row[2].int {
                fields[key] = nil  // stored as wanted
            } else if fields[key] == nil {
                try db.execute("DELETE FROM marketing_person_fields WHERE person_id = ? AND key = ?",
                               [.integer(person.id), .text(key)])
            }
        }
        if !fields.isEmpty {
            let insert = try db.prepare(
                "INSERT OR REPLACE INTO marketing_person_fields (person_id, key, value, type, num) VALUES (?, ?, ?, ?, ?)")
            defer { insert.finalize() }
            for (key, field) in fields {
                try insert.reset()
                try insert.bind([.integer(person.id), .text(key), .text(field.text), .integer(field.type.rawValue), field.number])
                while try insert.step() {}
            }
        }
        return true
    }

    /// A person who is gone (merged away or erased): no longer live, and
    /// for an erasure nothing of their data is kept.
    static func retire(_ db: Database, _ id: Int64, erase: Bool) throws {
        if erase {
            try db.execute("""
                UPDATE marketing_people SET first_name = '', last_name = '', email = '', email_domain = '', job_title = '',
                    source = '', lifecycle_stage = 0, organization_id = 0, live = 0, updated_us = ? WHERE person_id = ?
                """, [.integer(UTCClock.nowMicros()), .integer(id)])
        } else {
            try db.execute("UPDATE marketing_people SET live = 0, updated_us = ? WHERE person_id = ?",
                           [.integer(UTCClock.nowMicros()), .integer(id)])
        }
        try db.execute("DELETE FROM marketing_person_tags WHERE person_id = ?", [.integer(id)])
        try db.execute("DELETE FROM marketing_person_fields WHERE person_id = ?", [.integer(id)])
    }

    /// (live, owner) of a person in the projection, nil if absent.
    static func state(_ db: Database, _ id: Int64) throws -> (live: Bool, owner: String)? {
        guard let row = try db.query("SELECT live, owner FROM marketing_people WHERE person_id = ?", [.integer(id)]).first else {
            return nil
        }
        return (row[0].int == 1, row[1].string ?? "")
    }
}
