import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import SalesTestClient
import Testing

/// Sales publishes each event about its record and owner, so crmd's
/// Events/Subscribe (filtered by each event's read permission and owner)
/// hands a rep only the events about their own records.
@Suite struct SalesEventScopeTests {
    /// The owner of the record each replayed sales event is about, from its payload.
    func owners(_ world: SalesAccessWorld, as user: String) async throws -> [String] {
        let request = Crm_Kernel_V1_SubscribeRequest.with {
            $0.topicPatterns = ["sales.>"]
            $0.replayOnly = true
        }
        var owners: [String] = []
        for try await event in try world.connection.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self,
                                                           metadata: AccessSupport.actingAs(user)) {
            switch event.typeName {
            case "crm.sales.v1.LeadEvent": owners.append(try Crm_Sales_V1_LeadEvent(serializedBytes: event.payload).lead.owner)
            case "crm.sales.v1.OpportunityEvent":
                owners.append(try Crm_Sales_V1_OpportunityEvent(serializedBytes: event.payload).opportunity.owner)
            case "crm.sales.v1.ActivityEvent":
                owners.append(try Crm_Sales_V1_ActivityEvent(serializedBytes: event.payload).activity.owner)
            default: owners.append("? \(event.typeName)")
            }
        }
        return owners
    }

    @Test func aRepsEventStreamCarriesOnlyTheirOwnRecords() async throws {
        let world = try await SalesAccessWorld.start()
        for rep in [world.ann, world.bob] {
            let lead = try await rep.createLead(last: "Streamed")
            _ = try await rep.createOpportunity("Streamed deal", amount: 100)
            _ = try await rep.createActivity(.call, "Streamed call", lead: lead.id)
        }
        #expect(try await owners(world, as: "ann") == ["ann", "ann", "ann"])
        #expect(try await owners(world, as: "bob") == ["bob", "bob", "bob"])
        #expect(try await owners(world, as: "meg") == ["ann", "ann", "ann", "bob", "bob", "bob"])
    }
}
