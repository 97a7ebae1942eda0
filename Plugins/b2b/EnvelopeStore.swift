import B2BContract
import CRMPluginKit

/// Signature envelopes: one row per envelope, bound to a sent quote
/// revision's (quote_id, revision, content_hash), with the contract terms
/// the signature makes a contract of (a protobuf blob: they are never
/// queried), and the provider events already processed, by event id, with
/// the answer each got (a replay answers those bytes again).
enum EnvelopeStore {
    static let schema = """
        CREATE TABLE b2b_envelopes (
            id INTEGER PRIMARY KEY,
            quote_id INTEGER NOT NULL REFERENCES b2b_quotes (id),
            revision INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            opportunity_id INTEGER NOT NULL,
            signer_person_id INTEGER NOT NULL,
            owner TEXT NOT NULL,
            status INTEGER NOT NULL,
            terms BLOB NOT NULL,
            contract_id INTEGER NOT NULL,
            decline_reason TEXT NOT NULL,
            sent_us INTEGER NOT NULL,
            viewed_us INTEGER NOT NULL,
            signed_us INTEGER NOT NULL,
            declined_us INTEGER NOT NULL,
            expired_us INTEGER NOT NULL,
            last_event_id TEXT NOT NULL,
            created_by TEXT NOT NULL,
            version INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL);
        CREATE INDEX b2b_envelopes_by_quote ON b2b_envelopes (quote_id, revision, status);
        CREATE INDEX b2b_envelopes_by_owner ON b2b_envelopes (owner, id);
        CREATE INDEX b2b_envelopes_by_signer ON b2b_envelopes (signer_person_id);
        CREATE INDEX b2b_envelopes_by_opportunity ON b2b_envelopes (opportunity_id);
        CREATE TABLE b2b_signature_events (
            event_id TEXT PRIMARY KEY,
            envelope_id INTEGER NOT NULL,
            body_hash BLOB NOT NULL,
            response BLOB NOT NULL,
            received_us INTEGER NOT NULL);
        """

    static let entity = "b2b.envelope"

    static let columns = """
        id, quote_id, revision, content_hash, opportunity_id, signer_person_id, owner, status, terms, contract_id,
        decline_reason, sent_us, viewed_us, signed_us, declined_us, expired_us, last_event_id, created_by, version,
        created_us, updated_us
        """

    static func decode(_ row: [SQLValue]) throws -> Envelope {
        var e = Envelope()
        e.id = row.int(0)
        e.quoteID = row.int(1)
        e.revision = row.int32(2)
        e.contentHash = row.text(3)
        e.opportunityID = row.int(4)
        e.signerPersonID = row.int(5)
        e.owner = row.text(6)
        e.status = Crm_B2b_V1_EnvelopeStatus(rawValue: Int(truncatingIfNeeded: row.int(7))) ?? .unspecified
        e.terms = try Terms(serializedBytes: row.blob(8))
        e.contractID = row.int(9)
        e.declineReason = row.text(10)
        e.sentUnixUs = row.int(11)
        e.viewedUnixUs = row.int(12)
        e.signedUnixUs = row.int(13)
        e.declinedUnixUs = row.int(14)
        e.expiredUnixUs = row.int(15)
        e.lastEventID = row.text(16)
        e.createdBy = row.text(17)
        e.version = row.int(18)
        e.createdUnixUs = row.int(19)
        e.updatedUnixUs = row.int(20)
        return e
    }

    private static func values(_ e: Envelope) throws -> [SQLValue] {
        [.integer(e.quoteID), .integer(Int64(e.revision)), .text(e.contentHash), .integer(e.opportunityID),
         .integer(e.signerPersonID), .text(e.owner), .integer(Int64(e.status.rawValue)), .blob(try e.terms.serializedBytes()),
         .integer(e.contractID), .text(e.declineReason), .integer(e.sentUnixUs), .integer(e.viewedUnixUs),
         .integer(e.signedUnixUs), .integer(e.declinedUnixUs), .integer(e.expiredUnixUs), .text(e.lastEventID),
         .text(e.createdBy), .integer(e.version), .integer(e.createdUnixUs), .integer(e.updatedUnixUs)]
    }

    static func insert(_ db: Database, _ e: inout Envelope) throws {
        e.id = try db.execute("""
            INSERT INTO b2b_envelopes (quote_id, revision, content_hash, opportunity_id, signer_person_id, owner, status,
                terms, contract_id, decline_reason, sent_us, viewed_us, signed_us, declined_us, expired_us, last_event_id,
                created_by, version, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, try values(e)).lastInsertID
    }

    static func save(_ db: Database, _ e: Envelope) throws {
        try db.execute("""
            UPDATE b2b_envelopes SET quote_id = ?, revision = ?, content_hash = ?, opportunity_id = ?, signer_person_id = ?,
                owner = ?, status = ?, terms = ?, contract_id = ?, decline_reason = ?, sent_us = ?, viewed_us = ?,
                signed_us = ?, declined_us = ?, expired_us = ?, last_event_id = ?, created_by = ?, version = ?,
                created_us = ?, updated_us = ? WHERE id = ?
            """, try values(e) + [.integer(e.id)])
    }

    static func load(_ db: Database, _ id: Int64) throws -> Envelope? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(columns) FROM b2b_envelopes WHERE id = ?", [.integer(id)]).first.map(decode)
    }

    /// The envelope to read: NOT_FOUND if missing or out of `scope` (the same words).
    static func require(_ db: Database, _ id: Int64, field: String = "id", readableIn scope: RecordScope) throws -> Envelope {
        try Validate.positiveID(id, field)
        guard let e = try load(db, id), scope.includes(owner: ownerOrNil(e.owner)) else {
            throw PluginError.notFound("\(field): envelope \(id) does not exist")
        }
        return e
    }

    /// An envelope of the revision still in progress (CREATED, SENT or VIEWED), if any.
    static func inProgress(_ db: Database, quote: Int64, revision: Int32) throws -> Envelope? {
        try db.query("SELECT \(columns) FROM b2b_envelopes WHERE quote_id = ? AND revision = ? AND status IN (1, 2, 3) LIMIT 1",
                     [.integer(quote), .integer(Int64(revision))]).first.map(decode)
    }

    static func statusName(_ s: Crm_B2b_V1_EnvelopeStatus) -> String {
        switch s {
        case .created: return "CREATED"
        case .sent: return "SENT"
        case .viewed: return "VIEWED"
        case .signed: return "SIGNED"
        case .declined: return "DECLINED"
        case .expired: return "EXPIRED"
        default: return "UNSPECIFIED"
        }
    }

    /// Audit values of an envelope, under the .proto field names.
    static func fields(_ e: Envelope) -> [String: String] {
        func id(_ value: Int64) -> String { value == 0 ? "" : String(value) }
        return [
            "quote_id": id(e.quoteID), "revision": String(e.revision), "content_hash": e.contentHash,
            "opportunity_id": id(e.opportunityID), "signer_person_id": id(e.signerPersonID), "owner": e.owner,
            "status": statusName(e.status), "contract_id": id(e.contractID), "decline_reason": e.declineReason,
            "last_event_id": e.lastEventID,
        ].merging(ContractTermsCheck.fields(e.terms)) { a, _ in a }
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Envelope?, new: Envelope) throws {
        try ctx.audit(AuditEntry(entity: entity, recordID: String(new.id), action: action, owner: ownerOrNil(new.owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}
