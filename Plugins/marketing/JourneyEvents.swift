import CRMPluginKit
import MarketingContract

/// marketing.journey.entered|completed|exited|step_failed: a person's way
/// through a journey, on their timeline. Published about the enrollment
/// (entity marketing.journey_enrollment, its id) under the person's owner,
/// so streams follow contacts' scope and an erasure of the person empties
/// them (JourneyPeople redacts each of their enrollments).
enum JourneyEvents {
    static let entity = "marketing.journey_enrollment"

    enum Kind: String {
        case entered, completed, exited
        case stepFailed = "step_failed"
    }

    /// Publishes one event in the caller's transaction. `journeyName` nil:
    /// read from the journey's row; `owner` nil: the person's owner in
    /// marketing's projection.
    static func publish(_ ctx: CallContext, _ db: Database, _ kind: Kind, journeyID: Int64, journeyName: String?,
                        enrollmentID: Int64, personID: Int64, step: String = "", detail: String = "",
                        owner: String? = nil) throws {
        let name = try journeyName ?? (db.query("SELECT name FROM marketing_journeys WHERE id = ?",
                                                [.integer(journeyID)]).first?.first?.string ?? "")
        var event = Crm_Marketing_V1_JourneyEvent()
        event.journeyID = journeyID
        event.journeyName = name
        event.enrollmentID = enrollmentID
        event.personID = personID
        event.step = step
        event.detail = String(detail.prefix(500))
        event.about.personIds = [personID]
        event.about.summary = switch kind {
        case .entered: "Entered journey \"\(name)\""
        case .completed: "Completed journey \"\(name)\""
        case .exited: "Left journey \"\(name)\"" + (detail.isEmpty ? "" : ": \(event.detail)")
        case .stepFailed: "Journey \"\(name)\": step \"\(step)\" failed: \(event.detail)"
        }
        let owner = try owner ?? SegmentPeople.state(db, personID)?.owner ?? ""
        try ctx.publish("marketing.journey.\(kind.rawValue)", event,
                        about: EventSubject(entity: entity, recordID: String(enrollmentID), owner: ownerOrNil(owner)))
    }
}
