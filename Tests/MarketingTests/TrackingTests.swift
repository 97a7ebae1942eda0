import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import MarketingTestClient
import Testing

/// The tracking rpcs' answers to tokens and reports they must refuse, end
/// to end over the socket. (The links of real messages: TrackingFlowTests.)
@Suite struct TrackingTests {
    @Test func tokensThisDatabaseDidNotSignAreNotFoundAndBadHitsInvalid() async throws {
        let world = try ConsentWorld()
        let m = world.marketing
        for call in [m.trackOpen, m.trackClick] as [(String, String) async throws -> Crm_Marketing_V1_TrackHitResponse] {
            await expectRPCError(.invalidArgument, mentioning: "token is required") { _ = try await call("", TrackingAgents.person) }
            await expectRPCError(.invalidArgument, mentioning: "user_agent is longer than 1024") {
                _ = try await call("AQEAAAAAAAAAAQ", String(repeating: "a", count: 1025))
            }
            // Not base64url, too short, the right shape with a forged MAC, too long.
            let forged = "AQEAAAAAAAAAAQ" + String(repeating: "A", count: 21)
            for token in ["not a token!", "AQE", forged, String(repeating: "A", count: 65)] {
                await expectRPCError(.notFound, mentioning: "no such tracking token") { _ = try await call(token, TrackingAgents.person) }
            }
        }
        await expectRPCError(.notFound, mentioning: "no such tracking token") { _ = try await m.unsubscribePage("AwEAAAAAAAAAAQ") }
        await expectRPCError(.notFound, mentioning: "no such tracking token") { _ = try await m.unsubscribeByToken("AwEAAAAAAAAAAQ") }
        #expect(try await m.engagement(includeMachine: true).entries.isEmpty)
    }

    @Test func reportsAndListsCheckTheirArguments() async throws {
        let world = try ConsentWorld()
        let m = world.marketing
        await expectRPCError(.invalidArgument, mentioning: "message_id is required") { _ = try await m.reportDelivery(" <> ", .bounced) }
        await expectRPCError(.invalidArgument, mentioning: "message_id is longer than 998") {
            _ = try await m.reportDelivery(String(repeating: "m", count: 999), .bounced)
        }
        await expectRPCError(.invalidArgument, mentioning: "kind must be ENGAGEMENT_KIND_DELIVERED") {
            _ = try await m.reportDelivery("<a@b>", .opened)
        }
        await expectRPCError(.invalidArgument, mentioning: "detail is longer than 2000") {
            _ = try await m.reportDelivery("<a@b>", .bounced, detail: String(repeating: "d", count: 2001))
        }
        await expectRPCError(.notFound, mentioning: "no message with Message-ID <nobody@example.com>") {
            _ = try await m.reportDelivery("<nobody@example.com>", .delivered)
        }
        await expectRPCError(.invalidArgument, mentioning: "person_id must not be negative") { _ = try await m.engagement(person: -1) }
        await expectRPCError(.invalidArgument, mentioning: "campaign_id must not be negative") { _ = try await m.engagement(campaign: -1) }
        await expectRPCError(.invalidArgument, mentioning: "page_size must not be negative") { _ = try await m.engagement(pageSize: -1) }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { _ = try await m.engagement(pageToken: "nope") }
        await expectRPCError(.notFound, mentioning: "person 99 not found") { _ = try await m.engagement(person: 99) }
        await expectRPCError(.invalidArgument, mentioning: "campaign_id must not be negative") { _ = try await m.attributions(campaign: -2) }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { _ = try await m.attributions(pageToken: "nope") }
        #expect(try await m.attributions().attributions.isEmpty)
    }
}
