import CRMKernelCore
import Testing

/// The rule Events/Subscribe applies to each event: the topic's read
/// permission, then the owner of the record the event is about.
@Suite struct EventVisibilityTests {
    typealias Reach = EventVisibility.Reach

    func decide(_ permission: String?, admin: Bool = false, holds: Set<String> = [], reach: Reach = .all,
                own: [String] = ["ann"], team: [String] = ["ann", "bob"]) -> EventVisibility {
        EventVisibility.decide(readPermission: permission, isAdministrator: admin, allows: { holds.contains($0) },
                               reach: { _ in reach }, own: own, team: team)
    }

    func admits(_ visibility: EventVisibility, owner: String?, subject: Bool = true) -> Bool {
        guard let owner else { return visibility.admits(subject: subject, owner: nil) }
        return Array(owner.utf8).withUnsafeBytes { visibility.admits(subject: subject, owner: $0) }
    }

    @Test func aTopicWithoutAReadPermissionIsForAdministratorsOnly() {
        #expect(decide(nil, admin: true) == .all)
        #expect(decide("", admin: true) == .all)
        #expect(decide(nil, holds: ["probe.item.read"]) == .none)
        #expect(decide("", holds: ["probe.item.read"]) == .none)
    }

    @Test func withoutTheReadPermissionNothingOfTheTopicGoesOut() {
        let visibility = decide("sales.lead.read", holds: ["sales.lead.write"])
        #expect(visibility == .none)
        #expect(!admits(visibility, owner: "ann"))
        #expect(!admits(visibility, owner: nil, subject: false))
    }

    @Test func reachAllSeesEveryEventOwnedOrNot() {
        let visibility = decide("sales.lead.read", holds: ["sales.lead.read"], reach: .all)
        #expect(visibility == .all)
        #expect(admits(visibility, owner: "zed") && admits(visibility, owner: nil) && admits(visibility, owner: ""))
    }

    @Test func reachOwnSeesItsOwnRecordsAndEventsAboutNoRecord() {
        let visibility = decide("sales.lead.read", holds: ["sales.lead.read"], reach: .own)
        #expect(visibility == .owners([Array("ann".utf8)]))
        #expect(admits(visibility, owner: "ann"))
        #expect(!admits(visibility, owner: "bob"), "a team-mate's record is out of own reach")
        #expect(!admits(visibility, owner: "an"), "a prefix is another name")
        #expect(!admits(visibility, owner: "anne"))
        #expect(!admits(visibility, owner: nil), "a record without an owner: reach all only")
        #expect(!admits(visibility, owner: ""))
        #expect(admits(visibility, owner: nil, subject: false), "an event about no record needs only the permission")
    }

    @Test func reachTeamSeesTeamMatesRecords() {
        let visibility = decide("sales.lead.read", holds: ["sales.lead.read"], reach: .team)
        #expect(admits(visibility, owner: "ann") && admits(visibility, owner: "bob"))
        #expect(!admits(visibility, owner: "cat") && !admits(visibility, owner: nil))
        #expect(admits(visibility, owner: nil, subject: false))
    }

    @Test func thePermissionWithNoReachSeesOnlyEventsAboutNoRecord() {
        let visibility = decide("sales.lead.read", holds: ["sales.lead.read"], reach: .none)
        #expect(!admits(visibility, owner: "ann"))
        #expect(admits(visibility, owner: nil, subject: false))
    }
}
