import CRMPluginKit
import ServiceContract

typealias LinkKind = Crm_Service_V1_LinkKind
typealias TicketLink = Crm_Service_V1_TicketLink

/// Links between tickets: RELATED (symmetric, stored once with the smaller
/// id first), PARENT_OF (a ticket has at most one parent; no cycles) and
/// DUPLICATE_OF (at most one original per ticket).
enum TicketLinks {
    static let maxLinks = 100

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "LinkTickets", link)
        def.unary(Service.service + "UnlinkTickets", unlink)
        def.unary(Service.service + "ListTicketLinks", list)
    }

    /// The stored form of a link as a caller names it.
    static func stored(_ ticket: Int64, _ kind: LinkKind, _ other: Int64) -> (Int64, LinkKind, Int64) {
        kind == .related && other < ticket ? (other, kind, ticket) : (ticket, kind, other)
    }

    static func checkRequest(_ ticket: Int64, _ kind: LinkKind, _ other: Int64) throws {
        try Validate.positiveID(ticket, "ticket_id")
        try Validate.positiveID(other, "other_id")
        guard ticket != other else { throw PluginError.invalidArgument("other_id: a ticket cannot be linked to itself") }
        guard [LinkKind.related, .parentOf, .duplicateOf].contains(kind) else {
            throw PluginError.invalidArgument(kind == .unspecified ? "kind is required"
                : "kind \(kind.rawValue): a link is RELATED, PARENT_OF or DUPLICATE_OF")
        }
    }

    static func link(_ ctx: CallContext, _ req: Crm_Service_V1_LinkTicketsRequest) throws -> TicketLink {
        try checkRequest(req.ticketID, req.kind, req.otherID)
        let db = try ctx.database
        let store = TicketStore(db: db)
        let ticket = try store.require(req.ticketID, field: "ticket_id", writableIn: ctx.scope)
        let other = try store.require(req.otherID, field: "other_id", readableIn: ctx.scope)
        for t in [ticket, other] where t.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("ticket \(t.id) was merged into ticket \(t.mergedIntoID); link that one")
        }
        let (a, kind, b) = stored(ticket.id, req.kind, other.id)
        if let existing = try find(db, a, kind, b) { return existing }
        let link = try insert(ctx, db, ticket: ticket.id, kind: req.kind, other: other.id, owner: ticket.assignee,
                              now: UTCClock.nowMicros(), strict: true)!
        try ServiceEvents.publish(ctx, "linked", ticket, summary: "linked to ticket #\(other.id)")
        return link
    }

    /// Inserts a link after its rules; with `strict` a broken rule throws
    /// FAILED_PRECONDITION, without (a merge moving links) it skips the link.
    @discardableResult
    static func insert(_ ctx: CallContext, _ db: Database, ticket: Int64, kind requested: LinkKind, other: Int64, owner: String,
                       now: Int64, strict: Bool = true) throws -> TicketLink? {
        func refuse(_ why: String) throws -> TicketLink? {
            if strict { throw PluginError.failedPrecondition(why) }
            return nil
        }
        let (a, kind, b) = stored(ticket, requested, other)
        if a == b { return nil }
        if try find(db, a, kind, b) != nil { return nil }
        for id in [a, b] {
            let count = try db.query("SELECT (SELECT COUNT(*) FROM service_links WHERE ticket_id = ?) + "
                + "(SELECT COUNT(*) FROM service_links WHERE other_id = ?)", [.integer(id), .integer(id)]).first?.int(0) ?? 0
            if count >= Int64(maxLinks) { return try refuse("ticket \(id) already has \(maxLinks) links") }
        }
        switch kind {
        case .parentOf:
            if let parent = try parent(db, of: b) {
                return try refuse("other_id: ticket \(b) already has a parent, ticket \(parent)")
            }
            var up: Int64? = a
            var steps = 0
            while let current = up, steps < 10_000 {
                if current == b { return try refuse("other_id: ticket \(b) is an ancestor of ticket \(a); a parent cycle would form") }
                up = try parent(db, of: current)
                steps += 1
            }
        case .duplicateOf:
            if let original = try db.query("SELECT other_id FROM service_links WHERE ticket_id = ? AND kind = ?",
                                           [.integer(a), .integer(Int64(kind.rawValue))]).first?.int(0) {
                return try refuse("ticket_id: ticket \(a) is already a duplicate of ticket \(original)")
            }
        default:
            break
        }
        try db.execute("INSERT INTO service_links (ticket_id, kind, other_id, created_us) VALUES (?, ?, ?, ?)",
                       [.integer(a), .integer(Int64(kind.rawValue)), .integer(b), .integer(now)])
        var link = TicketLink()
        link.ticketID = a
        link.kind = kind
        link.otherID = b
        link.createdUnixUs = now
        try ServiceAudit.link(ctx, "link", link, owner: owner)
        return link
    }

    static func parent(_ db: Database, of child: Int64) throws -> Int64? {
        try db.query("SELECT ticket_id FROM service_links WHERE other_id = ? AND kind = ?",
                     [.integer(child), .integer(Int64(LinkKind.parentOf.rawValue))]).first?.int(0)
    }

    static func find(_ db: Database, _ a: Int64, _ kind: LinkKind, _ b: Int64) throws -> TicketLink? {
        try db.query("SELECT ticket_id, kind, other_id, created_us FROM service_links WHERE ticket_id = ? AND kind = ? AND other_id = ?",
                     [.integer(a), .integer(Int64(kind.rawValue)), .integer(b)]).first.map(decode)
    }

    static func decode(_ row: [SQLValue]) -> TicketLink {
        var link = TicketLink()
        link.ticketID = row.int(0)
        link.kind = LinkKind(rawValue: Int(truncatingIfNeeded: row.int(1))) ?? .unspecified
        link.otherID = row.int(2)
        link.createdUnixUs = row.int(3)
        return link
    }

    static func unlink(_ ctx: CallContext, _ req: Crm_Service_V1_UnlinkTicketsRequest) throws -> Crm_Service_V1_UnlinkTicketsResponse {
        try checkRequest(req.ticketID, req.kind, req.otherID)
        let db = try ctx.database
        let store = TicketStore(db: db)
        let ticket = try store.require(req.ticketID, field: "ticket_id", writableIn: ctx.scope)
        _ = try store.require(req.otherID, field: "other_id", readableIn: ctx.scope)
        let (a, kind, b) = stored(ticket.id, req.kind, req.otherID)
        guard let link = try find(db, a, kind, b) else {
            throw PluginError.notFound("no \(kind) link from ticket \(req.ticketID) to ticket \(req.otherID)")
        }
        try db.execute("DELETE FROM service_links WHERE ticket_id = ? AND kind = ? AND other_id = ?",
                       [.integer(a), .integer(Int64(kind.rawValue)), .integer(b)])
        try ServiceAudit.link(ctx, "unlink", link, owner: ticket.assignee)
        return Crm_Service_V1_UnlinkTicketsResponse()
    }

    /// Every link of a ticket, seen from it: (other, kind as seen).
    static func seenFrom(_ db: Database, _ id: Int64) throws -> [TicketLink] {
        var links: [TicketLink] = []
        for row in try db.query("SELECT ticket_id, kind, other_id, created_us FROM service_links WHERE ticket_id = ?", [.integer(id)]) {
            links.append(decode(row))
        }
        for row in try db.query("SELECT ticket_id, kind, other_id, created_us FROM service_links WHERE other_id = ?", [.integer(id)]) {
            var link = decode(row)
            let from = link.ticketID
            link.ticketID = id
            link.otherID = from
            switch link.kind {
            case .parentOf: link.kind = .childOf
            case .duplicateOf: link.kind = .duplicatedBy
            default: break
            }
            links.append(link)
        }
        return links.sorted { ($0.otherID, $0.kind.rawValue) < ($1.otherID, $1.kind.rawValue) }
    }

    /// A ticket has at most `maxLinks`, so the page is cut in memory, by
    /// the key (other_id, kind), leaving out tickets out of scope.
    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListTicketLinksRequest) throws -> Crm_Service_V1_ListTicketLinksResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        let db = try ctx.database
        let scope = ctx.scope
        let store = TicketStore(db: db)
        let ticket = try store.require(req.ticketID, field: "ticket_id", readableIn: scope)
        var after: (Int64, Int)? = nil
        if let key = paging.after {
            guard let other = try tokenInt(key[0]).int, let kind = try tokenInt(key[1]).int else {
                throw PluginError.invalidArgument("page_token is not a token this list returned")
            }
            after = (other, Int(truncatingIfNeeded: kind))
        }
        var rows: [TicketLink] = []
        for link in try seenFrom(db, ticket.id) {
            if let after, (link.otherID, link.kind.rawValue) <= after { continue }
            guard let other = try store.load(link.otherID), try TicketScope.reaches(db, scope, other) else { continue }
            rows.append(link)
            if rows.count > paging.limit { break }
        }
        let page = paging.page(rows) { [.integer($0.otherID), .integer(Int64($0.kind.rawValue))] }
        var response = Crm_Service_V1_ListTicketLinksResponse()
        response.links = page.rows
        response.nextPageToken = page.nextToken
        return response
    }
}
