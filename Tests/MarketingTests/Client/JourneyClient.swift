import CRMProto

public typealias MJourney = Crm_Marketing_V1_Journey
public typealias MJourneyStep = Crm_Marketing_V1_JourneyStep

/// Journey calls and step builders for tests.
public enum Step {
    public static func send(_ key: String, template: Int64, next: String = "") -> MJourneyStep {
        .with { $0.key = key; $0.send.templateID = template; $0.next = next }
    }
    public static func wait(_ key: String, us: Int64 = 0, until: Int64 = 0, next: String = "") -> MJourneyStep {
        .with { $0.key = key; $0.wait.durationUs = us; $0.wait.untilUnixUs = until; $0.next = next }
    }
    public static func waitFor(_ key: String, sendStep: String, kind: Crm_Marketing_V1_EngagementKind = .opened,
                               timeoutUs: Int64, next: String = "", elseNext: String = "") -> MJourneyStep {
        .with {
            $0.key = key
            $0.waitForEngagement = .with { $0.sendStep = sendStep; $0.kind = kind; $0.timeoutUs = timeoutUs }
            $0.next = next
            $0.elseNext = elseNext
        }
    }
    public static func branch(_ key: String, segment: Int64, next: String = "", elseNext: String = "") -> MJourneyStep {
        .with { $0.key = key; $0.branch.segmentID = segment; $0.next = next; $0.elseNext = elseNext }
    }
    public static func tag(_ key: String, _ tag: String, next: String = "") -> MJourneyStep {
        .with { $0.key = key; $0.tag.tag = tag; $0.next = next }
    }
    public static func setText(_ key: String, field: String, _ text: String, next: String = "") -> MJourneyStep {
        .with { $0.key = key; $0.updateField.field = field; $0.updateField.value.text = text; $0.next = next }
    }
}

extension MarketingClient {
    public func createJourney(_ name: String, steps: [MJourneyStep], entrySegment: Int64 = 0, allowReentry: Bool = false,
                              gapUs: Int64 = 0, key: String = "") async throws -> MJourney {
        try await call("CreateJourney", Crm_Marketing_V1_CreateJourneyRequest.with {
            $0.journey.name = name
            $0.journey.steps = steps
            $0.journey.entrySegmentID = entrySegment
            $0.journey.allowReentry = allowReentry
            $0.journey.reentryGapUs = gapUs
            $0.idempotencyKey = key
        })
    }

    public func getJourney(_ id: Int64) async throws -> MJourney {
        try await call("GetJourney", Crm_Marketing_V1_GetJourneyRequest.with { $0.id = id })
    }

    public func updateJourney(_ id: Int64, mask: [String], expectedVersion: Int64 = 0,
                              _ change: (inout MJourney) -> Void) async throws -> MJourney {
        try await call("UpdateJourney", Crm_Marketing_V1_UpdateJourneyRequest.with {
            $0.journey.id = id
            change(&$0.journey)
            $0.updateMask = mask
            $0.expectedVersion = expectedVersion
        })
    }

    public func listJourneys(state: Crm_Marketing_V1_JourneyState = .unspecified, pageSize: Int32 = 0,
                             token: String = "") async throws -> Crm_Marketing_V1_ListJourneysResponse {
        try await call("ListJourneys", Crm_Marketing_V1_ListJourneysRequest.with {
            $0.state = state
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    /// "Activate", "Pause" or "Archive".
    public func journeyState(_ verb: String, _ id: Int64, expectedVersion: Int64 = 0) async throws -> MJourney {
        try await call("\(verb)Journey", Crm_Marketing_V1_JourneyStateRequest.with {
            $0.id = id
            $0.expectedVersion = expectedVersion
        })
    }

    public func enroll(_ journey: Int64, _ person: Int64, key: String = "") async throws -> Crm_Marketing_V1_JourneyEnrollment {
        try await call("EnrollInJourney", Crm_Marketing_V1_EnrollInJourneyRequest.with {
            $0.journeyID = journey
            $0.personID = person
            $0.idempotencyKey = key
        })
    }

    /// Every enrollment of a journey (all pages).
    public func enrollments(_ journey: Int64, person: Int64 = 0) async throws -> [Crm_Marketing_V1_JourneyEnrollment] {
        var out: [Crm_Marketing_V1_JourneyEnrollment] = []
        var token = ""
        repeat {
            let page: Crm_Marketing_V1_ListJourneyEnrollmentsResponse = try await call("ListJourneyEnrollments", Crm_Marketing_V1_ListJourneyEnrollmentsRequest.with {
                $0.journeyID = journey
                $0.personID = person
                $0.pageSize = 500
                $0.pageToken = token
            })
            out += page.enrollments
            token = page.nextPageToken
        } while !token.isEmpty
        return out
    }

    /// A journey's whole step log (all pages).
    public func stepLog(_ journey: Int64, person: Int64 = 0) async throws -> [Crm_Marketing_V1_JourneyStepLogEntry] {
        var out: [Crm_Marketing_V1_JourneyStepLogEntry] = []
        var token = ""
        repeat {
            let page: Crm_Marketing_V1_ListJourneyStepLogResponse = try await call("ListJourneyStepLog", Crm_Marketing_V1_ListJourneyStepLogRequest.with {
                $0.journeyID = journey
                $0.personID = person
                $0.pageSize = 500
                $0.pageToken = token
            })
            out += page.entries
            token = page.nextPageToken
        } while !token.isEmpty
        return out
    }
}
