import B2BContract
import CRMPluginKit

/// Audit entries of quote writes: one per write, entity b2b.quote, with
/// the quote's and its revision's fields as text (money as "12.34 EUR").
enum B2BAudit {
    typealias State = (record: QuoteStore.Record, revision: QuoteStore.Revision)

    static func quote(_ ctx: CallContext, _ action: String, old: State?, new: State) throws {
        try ctx.audit(AuditEntry(entity: "b2b.quote", recordID: String(new.record.id), action: action,
                                 owner: ownerOrNil(new.record.owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func fields(_ state: State) -> [String: String] {
        let (r, v) = state
        let content = v.priced.content
        func id(_ value: Int64) -> String { value == 0 ? "" : String(value) }
        return [
            "opportunity_id": id(r.opportunityID), "person_id": id(r.personID), "organization_id": id(r.organizationID),
            "owner": r.owner, "currency": r.currency, "price_book_id": id(r.priceBookID),
            "revision": String(v.revision), "status": v.status == .sent ? "sent" : "draft",
            "title": content.title, "valid_until": content.validUntil,
            "rounding": "\(content.rounding.mode) \(content.rounding.level)",
            "sections": String(content.sections.count), "lines": String(content.sections.reduce(0) { $0 + $1.lines.count }),
            "total": "\(Format.money(v.priced.totals.totalMinor, r.currency)) \(r.currency)",
            "content_hash": v.contentHash,
        ]
    }

    /// A change made by contacts' or sales' events to one field of a quote.
    static func followed(_ ctx: CallContext, id: Int64, owner: String, action: String, field: String, from old: String,
                         to new: String) throws {
        try ctx.audit(AuditEntry(entity: "b2b.quote", recordID: String(id), action: action, owner: ownerOrNil(owner),
                                 changes: [FieldChange(field, old: old.isEmpty ? nil : old, new: new.isEmpty ? nil : new)]))
    }
}
