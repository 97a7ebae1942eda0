import CRMPluginKit
import ServiceContract

/// Merging one ticket into another: the source closes and points at the
/// survivor, and everything that made it a conversation moves over.
enum TicketMerge {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "MergeTickets", merge)
    }

    static func merge(_ ctx: CallContext, _ req: Crm_Service_V1_MergeTicketsRequest) throws -> Crm_Service_V1_MergeTicketsResponse {
        try Validate.positiveID(req.sourceID, "source_id")
        try Validate.positiveID(req.targetID, "target_id")
        guard req.sourceID != req.targetID else { throw PluginError.invalidArgument("target_id: a ticket cannot merge into itself") }
        let db = try ctx.database
        let store = TicketStore(db: db)
        let scope = ctx.scope
        let (previous, claim) = try Service.idempotency.check(db, method: "MergeTickets", req, key: \.idempotencyKey)
        if let id = previous {
            guard let merged = try store.load(id), let survivor = try store.load(merged.mergedIntoID),
                  try TicketScope.reaches(db, scope, survivor) else {
                throw IdempotencyKeys.mismatch(method: "MergeTickets", key: req.idempotencyKey)
            }
            var response = Crm_Service_V1_MergeTicketsResponse()
            response.survivor = survivor
            response.merged = merged
            return response
        }
        var source = try store.require(req.sourceID, field: "source_id", writableIn: scope)
        let named = try store.require(req.targetID, field: "target_id", writableIn: scope)
        var target = try store.resolved(named)
        if target.id != named.id, try !TicketScope.reaches(db, scope, target) {
            throw PluginError(.permissionDenied, "target_id: ticket \(named.id) was merged into ticket \(target.id), "
                + "which is outside your record scope")
        }
        if source.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("source_id: ticket \(source.id) was already merged into ticket \(source.mergedIntoID)")
        }
        guard source.id != target.id else {
            throw PluginError.invalidArgument("target_id: ticket \(named.id) was merged into ticket \(source.id), the source itself")
        }
        if source.status == .closed { throw PluginError.failedPrecondition("source_id: ticket \(source.id) is closed; closed is final") }
        if target.status == .closed { throw PluginError.failedPrecondition("target_id: ticket \(target.id) is closed; closed is final") }
        guard source.requesterID == target.requesterID else {
            throw PluginError.failedPrecondition("target_id: ticket \(target.id) is for person \(target.requesterID), ticket "
                + "\(source.id) for person \(source.requesterID); merging would show one requester the other's conversation")
        }
        let now = UTCClock.nowMicros()
        let moved = try moveMessages(ctx, db, from: source.id, to: target.id, owner: target.assignee)
        try repointEarlierMerges(ctx, db, store, from: source.id, to: target.id, now: now)
        try moveLinks(ctx, db, from: source, to: target.id, owner: target.assignee, now: now)

        let targetBefore = target
        target.tags = Array(Set(target.tags + source.tags).sorted().prefix(50))
        target.followers = mergedList(target.followers, source.followers, limit: 20)
        target.version += 1
        target.updatedUnixUs = now
        try store.save(&target, old: targetBefore)
        try ServiceAudit.ticket(ctx, "merge", old: targetBefore, new: target)

        let sourceBefore = source
        TicketWorkflow.move(&source, to: .closed, now: now)
        source.mergedIntoID = target.id
        source.version += 1
        source.updatedUnixUs = now
        try store.save(&source, old: sourceBefore)
        try ServiceAudit.ticket(ctx, "merge", old: sourceBefore, new: source)

        try ServiceEvents.publish(ctx, "merged", target, summary: "absorbed ticket #\(source.id)") { $0.mergedID = source.id }
        try ServiceEvents.publish(ctx, "status_changed", source, summary: "is closed, merged into ticket #\(target.id)") {
            $0.previousStatus = sourceBefore.status
        }
        try Service.idempotency.record(db, claim, resultID: source.id)
        var response = Crm_Service_V1_MergeTicketsResponse()
        response.survivor = target
        response.merged = source
        response.messagesMoved = Int32(clamping: moved)
        return response
    }

    /// The survivor's list first, then the merged one's, within `limit`.
    static func mergedList(_ kept: [String], _ added: [String], limit: Int) -> [String] {
        var all = kept
        for item in added where !all.contains(item) && all.count < limit { all.append(item) }
        return all.sorted()
    }

    static func moveMessages(_ ctx: CallContext, _ db: Database, from: Int64, to: Int64, owner: String) throws -> Int {
        let rows = try db.query("SELECT \(MessageStore.columns) FROM service_messages WHERE ticket_id = ? ORDER BY id", [.integer(from)])
        for row in rows {
            let before = MessageStore.decode(row)
            var after = before
            after.ticketID = to
            try ServiceAudit.message(ctx, "move", old: before, new: after, owner: owner)
        }
        try db.execute("UPDATE service_messages SET ticket_id = ? WHERE ticket_id = ?", [.integer(to), .integer(from)])
        return rows.count
    }

    /// Tickets merged into the source before now point at the survivor, so
    /// merged_into_id always names the last survivor in one step.
    static func repointEarlierMerges(_ ctx: CallContext, _ db: Database, _ store: TicketStore, from: Int64, to: Int64, now: Int64) throws {
        for row in try db.query("SELECT \(TicketStore.columns) FROM service_tickets WHERE merged_into_id = ? ORDER BY id", [.integer(from)]) {
            let before = TicketStore.decode(row)
            var after = before
            after.mergedIntoID = to
            after.version += 1
            after.updatedUnixUs = now
            try store.save(&after, old: before)
            try ServiceAudit.ticket(ctx, "merge", old: before, new: after)
        }
    }

    /// The source's links become the survivor's; a link the survivor
    /// already has, one to itself, or one that would break a rule (a second
    /// parent, a cycle) is dropped.
    static func moveLinks(_ ctx: CallContext, _ db: Database, from source: Ticket, to target: Int64, owner: String, now: Int64) throws {
        for link in try TicketLinks.seenFrom(db, source.id) {
            let row: (Int64, LinkKind, Int64)
            switch link.kind {
            case .childOf: row = (link.otherID, .parentOf, source.id)
            case .duplicatedBy: row = (link.otherID, .duplicateOf, source.id)
            default: row = TicketLinks.stored(source.id, link.kind, link.otherID)
            }
            let (a, kind, b) = row
            try db.execute("DELETE FROM service_links WHERE ticket_id = ? AND kind = ? AND other_id = ?",
                           [.integer(a), .integer(Int64(kind.rawValue)), .integer(b)])
            var old = TicketLink()
            (old.ticketID, old.kind, old.otherID) = (a, kind, b)
            try ServiceAudit.link(ctx, "unlink", old, owner: source.assignee)
            let (na, nb) = (a == source.id ? target : a, b == source.id ? target : b)
            try TicketLinks.insert(ctx, db, ticket: na, kind: kind, other: nb, owner: owner, now: now, strict: false)
        }
    }
}
