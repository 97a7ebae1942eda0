import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Queue views: filters, priority-then-age order, keyset pages.
@Suite struct ServiceQueueTests {
    @Test func queuesFilterByTeamAssigneeStatusAndPriorityInPriorityThenAgeOrder() async throws {
        let world = try await ServiceWorld.start()
        let admin = world.admin
        let ada = try await world.person("Ada", "Lovelace")
        // (priority, team, assignee), created in this order.
        let plan: [(Crm_Service_V1_Priority, String, String)] = [
            (.low, "billing", ""), (.urgent, "billing", "ana"), (.normal, "billing", ""), (.urgent, "billing", ""),
            (.high, "tech", "cy"), (.normal, "billing", "ana"), (.high, "billing", "ben"), (.low, "", ""),
            (.urgent, "tech", ""), (.normal, "billing", "ana"),
        ]
        var ids: [Int64] = []
        for (i, (priority, team, assignee)) in plan.enumerated() {
            ids.append(try await admin.create("T\(i)", requester: ada, priority: priority, assignee: assignee, team: team).id)
        }
        _ = try await admin.setStatus(ids[9], .pending)
        _ = try await admin.setStatus(ids[5], .solved)
        func order(_ indexes: [Int]) -> [Int64] { indexes.map { ids[$0] } }

        #expect(try await admin.queueIDs() == order([1, 3, 8, 4, 6, 2, 9, 0, 7]), "urgent first, then oldest")
        #expect(try await admin.queueIDs(pageSize: 2) == order([1, 3, 8, 4, 6, 2, 9, 0, 7]), "pages join up")
        #expect(try await world.ana.queueIDs { $0.assignedToMe = true } == order([1, 9]), "my open tickets")
        #expect(try await world.ana.queueIDs { $0.team = "billing"; $0.unassigned = true } == order([3, 2, 0]),
                "unassigned in my team")
        #expect(try await admin.queueIDs { $0.team = "billing" } == order([1, 3, 6, 2, 9, 0]))
        #expect(try await admin.queueIDs { $0.team = "billing"; $0.assignee = "ana" } == order([1, 9]))
        #expect(try await admin.queueIDs { $0.priority = .urgent } == order([1, 3, 8]))
        #expect(try await admin.queueIDs { $0.team = "billing"; $0.priority = .normal; $0.unassigned = true } == order([2]))
        #expect(try await admin.queueIDs { $0.status = .pending } == order([9]))
        #expect(try await admin.queueIDs { $0.view = .solved } == order([5]))
        #expect(try await admin.queueIDs { $0.view = .any }.count == 10)
        #expect(try await admin.queueIDs { $0.unassigned = true; $0.team = "" } == order([3, 8, 2, 0, 7]))
        #expect(try await admin.queueIDs { $0.requesterID = ada; $0.view = .any }.count == 10)
    }

    @Test func queueRequestsAreChecked() async throws {
        let world = try await ServiceWorld.start()
        let admin = world.admin
        await expectRPCError(.invalidArgument, mentioning: "assignee, assigned_to_me and unassigned exclude one another") {
            try await admin.queue { $0.assignee = "ana"; $0.unassigned = true }
        }
        await expectRPCError(.invalidArgument, mentioning: "assigned_to_me: the caller is no CRM user") {
            try await admin.queue { $0.assignedToMe = true }
        }
        await expectRPCError(.invalidArgument, mentioning: "status SOLVED is not in view") {
            try await admin.queue { $0.status = .solved; $0.view = .unsolved }
        }
        await expectRPCError(.invalidArgument, mentioning: "view 9 is out of range") { try await admin.queue { $0.view = .UNRECOGNIZED(9) } }
        await expectRPCError(.invalidArgument, mentioning: "order 3 is out of range") { try await admin.queue { $0.order = .UNRECOGNIZED(3) } }
        await expectRPCError(.invalidArgument, mentioning: "requester_id must be a positive id") { try await admin.queue { $0.requesterID = -1 } }
        await expectRPCError(.invalidArgument, mentioning: "page_size must not be negative") { try await admin.queue { $0.pageSize = -1 } }
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token this list returned") {
            try await admin.queue { $0.pageToken = "bm90LWEtdG9rZW4" }
        }
        await expectRPCError(.invalidArgument, mentioning: "team \"Bad Team\" is not a CRM name") { try await admin.queue { $0.team = "Bad Team" } }
    }
}
