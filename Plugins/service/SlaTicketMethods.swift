import CRMPluginKit
import ServiceContract

/// A ticket's SLA as agents read it: the clocks now and the history.
enum SlaTicketMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "GetTicketSla", get)
        def.unary(Service.service + "ListSlaHistory", history)
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetTicketSlaRequest) throws -> Crm_Service_V1_TicketSla {
        let db = try ctx.database
        let ticket = try TicketStore(db: db).require(req.ticketID, field: "ticket_id", readableIn: ctx.scope)
        let (rows, policy) = try SlaEngine.live(ctx, db, ticket)
        var sla = Crm_Service_V1_TicketSla()
        sla.ticketID = ticket.id
        sla.policyID = policy?.id ?? 0
        sla.calendarID = policy?.calendarID ?? 0
        sla.dueUnixUs = ticket.slaDueUnixUs
        sla.clocks = rows.map { r in
            Crm_Service_V1_SlaClock.with {
                $0.kind = r.kind
                $0.cycle = r.cycle
                $0.state = r.state
                $0.startedUnixUs = r.started
                $0.stoppedUnixUs = r.stopped
                $0.targetMinutes = r.targetMinutes
                $0.dueUnixUs = r.due
                $0.businessSeconds = r.business / 1_000_000
                $0.warned = r.warned
                $0.breached = r.breached
            }
        }
        return sla
    }

    static func history(_ ctx: CallContext, _ req: Crm_Service_V1_ListSlaHistoryRequest) throws -> Crm_Service_V1_ListSlaHistoryResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let ticket = try TicketStore(db: db).require(req.ticketID, field: "ticket_id", readableIn: ctx.scope)
        var parameters: [SQLValue] = [.integer(ticket.id)]
        var condition = ""
        if let after = paging.after { condition = "AND id > ?"; parameters.append(try tokenInt(after[0])) }
        let page = try fetchPage(db, """
            SELECT id, ticket_id, kind, clock, policy_id, at_us FROM service_sla_history WHERE ticket_id = ? \(condition) ORDER BY id LIMIT ?
            """, parameters, paging, decode: { r in
                Crm_Service_V1_SlaHistoryEvent.with {
                    $0.id = r.int(0)
                    $0.ticketID = r.int(1)
                    $0.kind = SlaHistoryKind(rawValue: Int(truncatingIfNeeded: r.int(2))) ?? .unspecified
                    $0.clock = SlaClockKind(rawValue: Int(truncatingIfNeeded: r.int(3))) ?? .unspecified
                    $0.policyID = r.int(4)
                    $0.atUnixUs = r.int(5)
                }
            }, key: { [$0[0]] })
        var response = Crm_Service_V1_ListSlaHistoryResponse()
        response.events = page.rows
        response.nextPageToken = page.nextToken
        return response
    }
}
