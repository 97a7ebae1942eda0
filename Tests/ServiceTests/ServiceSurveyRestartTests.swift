import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// The dispatch job's durable state: an invitation that was queued at
/// marketing but not yet recorded when crmd was killed is dispatched again
/// after the restart, and marketing's idempotency key answers the delivery
/// it queued the first time: one email, never two.
@Suite struct ServiceSurveyRestartTests {
    @Test func aKillBetweenQueueAndRecordQueuesNoSecondEmail() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let plugins = ["contacts", "marketing", "service"]
        // No smtp_url: rows stay QUEUED in marketing's outbox, where they can be counted.
        var first: SurveyWorld? = try await SurveyWorld.start(plugins: plugins, dataDir: dataDir)
        let w1 = first!.world
        _ = try await w1.mia.createSurvey("Everyone", isDefault: true)
        let ada = try await w1.person("Ada", "Lovelace")
        let ticket = try await w1.ana.solvedTicket("Invoice", requester: ada)
        let queued = try await first!.dispatched(ticket.id)
        #expect(queued.dispatch == .emailQueued && queued.deliveryID > 0)
        // Killed after marketing queued the email and before service recorded it:
        // the fixture puts the invitation back as the record would have found it.
        _ = try w1.crmd.stop(signal: SIGKILL)
        first = nil
        try surveySQL(dataDir + "/crm.db",
                      "UPDATE service_survey_invitations SET dispatch = 1, delivery_id = 0, dispatched_us = 0 WHERE id = \(queued.id)")
        let w = try ServiceWorld.reopen(dataDir: dataDir, plugins: plugins)
        let s = SurveyWorld(world: w, edge: ServiceClient(connection: w.connection, metadata: AccessSupport.actingAs("edge")))
        let again = try await s.dispatched(ticket.id)
        #expect(again.dispatch == .emailQueued && again.deliveryID == queued.deliveryID)
        let outbox: Crm_Marketing_V1_ListDeliveriesResponse = try await w.connection.call(
            "/crm.marketing.v1.Marketing/ListDeliveries", Crm_Marketing_V1_ListDeliveriesRequest.with { $0.personID = ada })
        #expect(outbox.deliveries.map(\.id) == [queued.deliveryID], "one outbox row for the invitation")
    }
}
