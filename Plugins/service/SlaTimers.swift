import CRMPluginKit
import Foundation
import ServiceContract
import Synchronization

/// Warnings and breaches. Each running clock cycle with a due time has
/// `next_fire_us` (its warning time, then its due time, then 0), indexed:
/// the job reads the cycles whose time has come, in time order, and never
/// looks at a ticket whose clocks are not due. crmd runs RunSlaTimers
/// every 100 ms; it calls FireSlaTimers (the write) in batches until none
/// is due, so an event goes out within about 100 ms of its time.
///
/// Once per cycle: FireSlaTimers sets `warned` / `breach_fired` in the
/// transaction that publishes the event, and recomputes never clear them.
/// An agent's reply before the due time stops the cycle in the reply's
/// transaction (next_fire_us 0), so a stopped clock never breaches.
enum SlaTimers {
    static let running = Atomic<Bool>(false)

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "RunSlaTimers", run)
        def.unary(Service.service + "FireSlaTimers", fire)
    }

    static func run(_ ctx: CallContext, _ req: Crm_Service_V1_RunSlaTimersRequest) throws -> Crm_Service_V1_RunSlaTimersResponse {
        // A "run now" call beside the scheduled run does nothing.
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return .init() }
        defer { running.store(false, ordering: .releasing) }
        var response = Crm_Service_V1_RunSlaTimersResponse()
        let started = UTCClock.nowMicros()
        // At most a second per run, so shutdown never waits long.
        while UTCClock.nowMicros() - started < 1_000_000 {
            let request = Crm_Service_V1_FireSlaTimersRequest.with { $0.limit = 200 }
            let bytes = try ctx.host.invoke(Service.service + "FireSlaTimers", request: try request.serializedBytes(), parent: ctx)
            let fired = try Crm_Service_V1_FireSlaTimersResponse(serializedBytes: bytes)
            response.warnings += fired.warnings
            response.breaches += fired.breaches
            if !fired.more { break }
        }
        return response
    }

    static func fire(_ ctx: CallContext, _ req: Crm_Service_V1_FireSlaTimersRequest) throws -> Crm_Service_V1_FireSlaTimersResponse {
        try Checked.inRange(req.limit, 1...1000, "limit")
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "firing SLA timers needs service.sla.run at scope all")
        }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        let rows = try db.query("""
            SELECT ticket_id, \(SlaEngine.rowColumns) FROM service_sla_clocks
            WHERE next_fire_us > 0 AND next_fire_us <= ? ORDER BY next_fire_us LIMIT ?
            """, [.integer(now), .integer(Int64(req.limit))])
        var response = Crm_Service_V1_FireSlaTimersResponse()
        response.more = rows.count == Int(req.limit)
        let store = TicketStore(db: db)
        // Tickets an escalation changed in this batch: their other rows are
        // read again (a raised priority may have moved their due times).
        var escalated = Set<Int64>()
        for r in rows {
            let ticketID = r.int(0)
            var row = SlaEngine.decodeRow(Array(r.dropFirst()))
            if escalated.contains(ticketID) {
                guard let fresh = try db.query(
                    "SELECT \(SlaEngine.rowColumns) FROM service_sla_clocks WHERE ticket_id = ? AND kind = ? AND cycle = ?",
                    [.integer(ticketID), .integer(Int64(row.kind.rawValue)), .integer(Int64(row.cycle))]).first.map(SlaEngine.decodeRow),
                      fresh.nextFire > 0, fresh.nextFire <= now else { continue }
                row = fresh
            }
            guard let ticket = try store.load(ticketID) else { continue }
            let trigger: Crm_Service_V1_SlaTrigger
            if !row.warned && row.nextFire == row.warnAt && row.due > now {
                trigger = .warning
                row.warned = true
                row.nextFire = row.due
                try publish(ctx, "warning", ticket, row, now: now)
                response.warnings += 1
            } else {
                trigger = .breach
                // A warning whose time passed with the due time (a recompute
                // moved the due time back) is not sent late: the breach is.
                row.warned = true
                row.breachFired = true
                row.breached = true
                row.nextFire = 0
                row.outcome = row.stopped > 0 ? row.stopped : row.due
                try publish(ctx, "breached", ticket, row, now: now)
                response.breaches += 1
            }
            try SlaEngine.save(db, ticketID, row)
            if try Escalations.afterFire(ctx, db, ticket, trigger: trigger, clock: row.kind) { escalated.insert(ticketID) }
        }
        return response
    }

    static func publish(_ ctx: CallContext, _ action: String, _ ticket: Ticket, _ row: SlaEngine.Row, now: Int64) throws {
        var event = Crm_Service_V1_SlaEvent()
        event.ticket = ticket
        event.clock = row.kind
        event.cycle = row.cycle
        event.dueUnixUs = row.due
        event.firedUnixUs = now
        event.policyID = row.policyID
        var about = About()
        if ticket.requesterID > 0 { about.personIds = [ticket.requesterID] }
        if ticket.organizationID > 0 { about.organizationIds = [ticket.organizationID] }
        let clock = row.kind == .firstResponse ? "first response" : row.kind == .nextResponse ? "next response" : "resolution"
        about.summary = "Ticket #\(ticket.id) \"\(ticket.subject.prefix(120))\" " + (action == "warning" ? "nears its \(clock) due time" : "breached its \(clock) target")
        event.about = about
        _ = try ctx.publish("service.sla.\(action)", event,
                            about: EventSubject(entity: "service.ticket", recordID: String(ticket.id), owner: ownerOrNil(ticket.assignee)))
    }
}
