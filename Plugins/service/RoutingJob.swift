import CRMPluginKit
import ServiceContract
import Synchronization

/// The queue's second chance: tickets that waited because nobody could
/// take them (everyone away, offline or full) are routed once someone
/// can, in queue order. crmd runs RunRouting every 500 ms. It reads first
/// and takes the writer (RouteQueuedTickets, in-process) only for a team
/// where a queued ticket has an agent now, so an idle desk costs a few
/// index seeks per team and no write.
enum RoutingJob {
    static let running = Atomic<Bool>(false)
    /// Queued tickets looked at per team and call.
    static let batch: Int32 = 200

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "RunRouting", run)
        def.unary(Service.service + "RouteQueuedTickets", routeQueued)
    }

    static func run(_ ctx: CallContext, _ req: Crm_Service_V1_RunRoutingRequest) throws -> Crm_Service_V1_RunRoutingResponse {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return .init() }
        defer { running.store(false, ordering: .releasing) }
        var response = Crm_Service_V1_RunRoutingResponse()
        let db = try ctx.database
        let teams = try db.query("SELECT team FROM service_team_routing WHERE mode > ? ORDER BY team",
                                 [.integer(Int64(RoutingMode.manual.rawValue))]).map { $0.text(0) }
        let started = UTCClock.nowMicros()
        for team in teams {
            guard try RoutingEngine.hasWork(db, team: team, look: Int(batch)) else { continue }
            // At most a second per run, so shutdown never waits long.
            while UTCClock.nowMicros() - started < 1_000_000 {
                let request = Crm_Service_V1_RouteQueuedTicketsRequest.with { $0.team = team; $0.limit = batch }
                let bytes = try ctx.host.invoke(Service.service + "RouteQueuedTickets", request: try request.serializedBytes(), parent: ctx)
                let routed = try Crm_Service_V1_RouteQueuedTicketsResponse(serializedBytes: bytes)
                response.routed += routed.routed
                if !routed.more || routed.routed == 0 { break }
            }
        }
        return response
    }

    static func routeQueued(_ ctx: CallContext, _ req: Crm_Service_V1_RouteQueuedTicketsRequest) throws
        -> Crm_Service_V1_RouteQueuedTicketsResponse {
        try Validate.required(req.team, "team")
        try Check.name(req.team, "team")
        try Checked.inRange(req.limit, 1...500, "limit")
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "routing queued tickets needs service.routing.run at scope all")
        }
        let db = try ctx.database
        guard try Teams.exists(db, req.team) else { throw PluginError.notFound("team: team \"\(req.team)\" does not exist") }
        let (routed, more) = try RoutingEngine.routeQueued(ctx, db, team: req.team, limit: Int(req.limit))
        var response = Crm_Service_V1_RouteQueuedTicketsResponse()
        response.routed = Int32(clamping: routed)
        response.more = more
        return response
    }
}
