import B2BContract
import CRMPluginKit

/// A quote's record (its opportunity, buyer, owner, book and current
/// revision) and its revisions. A revision stores its priced content as one
/// protobuf blob: sections and lines are never queried one by one, and a
/// whole-document write cannot lose or double a line. A sent revision
/// never changes: triggers refuse any UPDATE or DELETE of one, so even a bug
/// in this module cannot rewrite what a customer was sent.
enum QuoteStore {
    static let schema = """
        CREATE TABLE b2b_quotes (
            id INTEGER PRIMARY KEY,
            opportunity_id INTEGER NOT NULL,
            person_id INTEGER NOT NULL,
            organization_id INTEGER NOT NULL,
            owner TEXT NOT NULL,
            currency TEXT NOT NULL,
            price_book_id INTEGER NOT NULL REFERENCES b2b_price_books (id),
            current_revision INTEGER NOT NULL,
            version INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL);
        CREATE INDEX b2b_quotes_by_opportunity ON b2b_quotes (opportunity_id, id);
        CREATE INDEX b2b_quotes_by_owner ON b2b_quotes (owner, id);
        CREATE INDEX b2b_quotes_by_person ON b2b_quotes (person_id);
        CREATE INDEX b2b_quotes_by_organization ON b2b_quotes (organization_id);
        CREATE TABLE b2b_quote_revisions (
            id INTEGER PRIMARY KEY,
            quote_id INTEGER NOT NULL REFERENCES b2b_quotes (id),
            revision INTEGER NOT NULL,
            status INTEGER NOT NULL,
            priced BLOB NOT NULL,
            organization_name TEXT NOT NULL,
            total_minor INTEGER NOT NULL,
            document BLOB,
            content_hash TEXT NOT NULL,
            approvals BLOB,
            sent_us INTEGER NOT NULL,
            sent_by TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            UNIQUE (quote_id, revision));
        CREATE TRIGGER b2b_sent_revision_update BEFORE UPDATE ON b2b_quote_revisions WHEN OLD.status = 2
        BEGIN SELECT RAISE(ABORT, 'a sent quote revision never changes'); END;
        CREATE TRIGGER b2b_sent_revision_delete BEFORE DELETE ON b2b_quote_revisions WHEN OLD.status = 2
        BEGIN SELECT RAISE(ABORT, 'a sent quote revision never changes'); END;
        CREATE TABLE b2b_approvals (
            quote_id INTEGER NOT NULL,
            revision INTEGER NOT NULL,
            rule_id INTEGER NOT NULL,
            decision INTEGER NOT NULL,
            decided_by TEXT NOT NULL,
            comment TEXT NOT NULL,
            decided_us INTEGER NOT NULL,
            PRIMARY KEY (quote_id, revision, rule_id));
        """

    struct Record: Equatable {
        var id: Int64 = 0
        var opportunityID: Int64 = 0
        var personID: Int64 = 0
        var organizationID: Int64 = 0
        var owner = ""
        var currency = ""
        var priceBookID: Int64 = 0
        var currentRevision: Int32 = 1
        var version: Int64 = 1
        var createdUs: Int64 = 0
        var updatedUs: Int64 = 0
    }

    struct Revision {
        var rowID: Int64 = 0
        var quoteID: Int64 = 0
        var revision: Int32 = 1
        var status: Crm_B2b_V1_RevisionStatus = .draft
        var priced = Crm_B2b_V1_PricedQuote()
        var organizationName = ""
        var document: [UInt8]? = nil
        var contentHash = ""
        /// On a sent revision: the approvals as they stood when it was sent.
        var frozenApprovals: [RequiredApproval]? = nil
        var sentUs: Int64 = 0
        var sentBy = ""
        var createdUs: Int64 = 0
        var updatedUs: Int64 = 0
    }

    static let recordColumns = """
        id, opportunity_id, person_id, organization_id, owner, currency, price_book_id, current_revision, version,
        created_us, updated_us
        """

    static func decodeRecord(_ row: [SQLValue]) -> Record {
        Record(id: row.int(0), opportunityID: row.int(1), personID: row.int(2), organizationID: row.int(3), owner: row.text(4),
               currency: row.text(5), priceBookID: row.int(6), currentRevision: row.int32(7), version: row.int(8),
               createdUs: row.int(9), updatedUs: row.int(10))
    }

    static func load(_ db: Database, _ id: Int64) throws -> Record? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(recordColumns) FROM b2b_quotes WHERE id = ?", [.integer(id)]).first.map(decodeRecord)
    }

    /// The quote if `scope` reaches its owner; NOT_FOUND as for a missing id otherwise.
    static func require(_ db: Database, _ id: Int64, field: String = "id", readableIn scope: RecordScope) throws -> Record {
        try Validate.positiveID(id, field)
        guard let record = try load(db, id), scope.includes(owner: ownerOrNil(record.owner)) else {
            throw PluginError.notFound("\(field): quote \(id) does not exist")
        }
        return record
    }

    /// The quote for a write: NOT_FOUND if missing, PERMISSION_DENIED out of scope.
    static func require(_ db: Database, _ id: Int64, field: String = "id", writableIn scope: RecordScope) throws -> Record {
        try Validate.positiveID(id, field)
        guard let record = try load(db, id) else { throw PluginError.notFound("\(field): quote \(id) does not exist") }
        try scope.checkWritable(owner: ownerOrNil(record.owner), "\(field): quote \(id)")
        return record
    }

    static func insert(_ db: Database, _ r: inout Record) throws {
        r.id = try db.execute("""
            INSERT INTO b2b_quotes (opportunity_id, person_id, organization_id, owner, currency, price_book_id,
                current_revision, version, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(r.opportunityID), .integer(r.personID), .integer(r.organizationID), .text(r.owner),
                  .text(r.currency), .integer(r.priceBookID), .integer(Int64(r.currentRevision)), .integer(r.version),
                  .integer(r.createdUs), .integer(r.updatedUs)]).lastInsertID
    }

    static func save(_ db: Database, _ r: Record) throws {
        try db.execute("""
            UPDATE b2b_quotes SET person_id = ?, organization_id = ?, owner = ?, current_revision = ?, version = ?,
                updated_us = ? WHERE id = ?
            """, [.integer(r.personID), .integer(r.organizationID), .text(r.owner), .integer(Int64(r.currentRevision)),
                  .integer(r.version), .integer(r.updatedUs), .integer(r.id)])
    }

    static let revisionColumns = """
        id, quote_id, revision, status, priced, organization_name, document, content_hash, approvals, sent_us, sent_by,
        created_us, updated_us
        """

    static func decodeRevision(_ row: [SQLValue], lines: Bool = true) throws -> Revision {
        var r = Revision(rowID: row.int(0), quoteID: row.int(1), revision: row.int32(2),
                         status: Crm_B2b_V1_RevisionStatus(rawValue: Int(row.int(3))) ?? .unspecified)
        r.priced = try Crm_B2b_V1_PricedQuote(serializedBytes: row.blob(4))
        if !lines { for s in r.priced.content.sections.indices { r.priced.content.sections[s].lines = [] } }
        r.organizationName = row.text(5)
        r.document = row[6].bytes
        r.contentHash = row.text(7)
        if let frozen = row[8].bytes { r.frozenApprovals = try Quote(serializedBytes: frozen).approvals }
        r.sentUs = row.int(9)
        r.sentBy = row.text(10)
        r.createdUs = row.int(11)
        r.updatedUs = row.int(12)
        return r
    }

    static func revision(_ db: Database, quote: Int64, _ number: Int32) throws -> Revision? {
        try db.query("SELECT \(revisionColumns) FROM b2b_quote_revisions WHERE quote_id = ? AND revision = ?",
                     [.integer(quote), .integer(Int64(number))]).first.map { try decodeRevision($0) }
    }

    static func revision(_ db: Database, rowID: Int64) throws -> Revision? {
        try db.query("SELECT \(revisionColumns) FROM b2b_quote_revisions WHERE id = ?", [.integer(rowID)]).first
            .map { try decodeRevision($0) }
    }

    /// Revision `number` of `record` (0: the current one); NOT_FOUND if none.
    static func requireRevision(_ db: Database, _ record: Record, _ number: Int32, field: String = "revision") throws -> Revision {
        guard number >= 0 else { throw PluginError.invalidArgument("\(field) must not be negative") }
        let wanted = number == 0 ? record.currentRevision : number
        guard let revision = try revision(db, quote: record.id, wanted) else {
            throw PluginError.notFound("\(field): quote \(record.id) has no revision \(wanted)")
        }
        return revision
    }

    static func insertRevision(_ db: Database, _ r: inout Revision) throws {
        r.rowID = try db.execute("""
            INSERT INTO b2b_quote_revisions (quote_id, revision, status, priced, organization_name, total_minor, document,
                content_hash, approvals, sent_us, sent_by, created_us, updated_us)
            VALUES (?, ?, 1, ?, ?, ?, NULL, '', NULL, 0, '', ?, ?)
            """, [.integer(r.quoteID), .integer(Int64(r.revision)), .blob(try r.priced.serializedBytes()),
                  .text(r.organizationName), .integer(r.priced.totals.totalMinor), .integer(r.createdUs),
                  .integer(r.updatedUs)]).lastInsertID
    }

    /// A draft edited in place.
    static func saveDraft(_ db: Database, _ r: Revision) throws {
        try db.execute("""
            UPDATE b2b_quote_revisions SET priced = ?, organization_name = ?, total_minor = ?, updated_us = ?
            WHERE id = ? AND status = 1
            """, [.blob(try r.priced.serializedBytes()), .text(r.organizationName), .integer(r.priced.totals.totalMinor),
                  .integer(r.updatedUs), .integer(r.rowID)])
    }

    /// The one change a revision gets when sent: frozen with its document.
    static func markSent(_ db: Database, _ r: Revision) throws {
        let approvals: [UInt8] = try Quote.with { $0.approvals = r.frozenApprovals ?? [] }.serializedBytes()
        try db.execute("""
            UPDATE b2b_quote_revisions SET status = 2, document = ?, content_hash = ?, approvals = ?, sent_us = ?,
                sent_by = ?, updated_us = ? WHERE id = ? AND status = 1
            """, [.blob(r.document ?? []), .text(r.contentHash), .blob(approvals), .integer(r.sentUs), .text(r.sentBy),
                  .integer(r.sentUs), .integer(r.rowID)])
    }

    /// The Quote message for a revision of a record.
    static func assemble(_ record: Record, _ revision: Revision, approvals: [RequiredApproval]) -> Quote {
        Quote.with {
            $0.id = record.id
            $0.opportunityID = record.opportunityID
            $0.personID = record.personID
            $0.organizationID = record.organizationID
            $0.owner = record.owner
            $0.currency = record.currency
            $0.priceBookID = record.priceBookID
            $0.revision = revision.revision
            $0.currentRevision = record.currentRevision
            $0.status = revision.status
            $0.superseded = revision.revision < record.currentRevision
            $0.content = revision.priced.content
            $0.totals = revision.priced.totals
            $0.taxes = revision.priced.taxes
            $0.approvals = approvals
            $0.contentHash = revision.contentHash
            $0.sentUnixUs = revision.sentUs
            $0.sentBy = revision.sentBy
            $0.organizationName = revision.organizationName
            $0.version = record.version
            $0.createdUnixUs = record.createdUs
            $0.updatedUnixUs = revision.updatedUs
        }
    }
}
