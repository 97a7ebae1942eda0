import CRMPluginKit
import ContactsContract
import MarketingContract
import ContactsLinkKit

/// What each kind of step does for one person. Returns nil when the person
/// stays at the step (a wait not yet over: the enrollment is held until due).
enum JourneyStepRunner {
    typealias Visit = JourneyVisits.Visit
    typealias Outcome = JourneyVisits.Outcome

    static func run(_ ctx: CallContext, _ db: Database, _ step: JourneyStep, _ visit: Visit, now: Int64) throws -> Outcome? {
        switch step.action {
        case .wait(let w):
            let due = w.durationUs > 0 ? visit.sinceUs.addingReportingOverflow(w.durationUs).partialValue : w.untilUnixUs
            if now < due { try JourneyVisits.hold(db, visit, until: due); return nil }
            return Outcome(name: "waited", next: step.next)
        case .waitForEngagement(let w):
            if try engaged(db, visit, sendStep: w.sendStep, kind: w.kind) {
                return Outcome(name: "engaged", next: step.next)
            }
            let deadline = visit.sinceUs.addingReportingOverflow(w.timeoutUs).partialValue
            if now >= deadline { return Outcome(name: "timed_out", next: step.elseNext) }
            try JourneyVisits.hold(db, visit, until: min(deadline, now + JourneyRunner.engagementPollUs))
            return nil
        case .branch(let b):
            let yes: Bool
            if b.segmentID > 0 {
                yes = try !db.query("SELECT 1 FROM marketing_segment_members WHERE segment_id = ? AND person_id = ?",
                                    [.integer(b.segmentID), .integer(visit.personID)]).isEmpty
            } else {
                yes = try engaged(db, visit, sendStep: b.sendStep, kind: b.kind)
            }
            return Outcome(name: yes ? "yes" : "no", next: yes ? step.next : step.elseNext)
        case .send(let s):
            return try send(ctx, db, step, templateID: s.templateID, visit)
        case .tag(let t):
            return try change(ctx, db, step, visit) { person in
                guard !person.tags.contains(t.tag) else { return nil }
                var update = Crm_Contacts_V1_UpdatePersonRequest()
                update.person.id = person.id
                update.person.tags = person.tags + [t.tag]
                update.updateMask = ["tags"]
                update.expectedVersion = person.version
                return update
            } done: { $0 ? "tagged" : "already_tagged" }
        case .updateField(let u):
            return try change(ctx, db, step, visit) { person in
                var update = Crm_Contacts_V1_UpdatePersonRequest()
                update.person.id = person.id
                update.expectedVersion = person.version
                let text: String = { if case .text(let t)? = u.value.value { return t }; return "" }()
                switch u.field {
                case "job_title": update.person.jobTitle = text
                case "source": update.person.source = text
                case "notes": update.person.notes = text
                default:
                    let key = String(u.field.dropFirst(7))
                    var fields = person.customFields
                    fields[key] = u.value
                    update.person.customFields = fields
                    update.updateMask = ["custom_fields"]
                    return person.customFields[key] == u.value ? nil : update
                }
                update.updateMask = [u.field]
                let current = u.field == "job_title" ? person.jobTitle : u.field == "source" ? person.source : person.notes
                return current == text ? nil : update
            } done: { $0 ? "updated" : "unchanged" }
        case nil:
            return Outcome(name: "skipped", next: step.next)
        }
    }

    /// The outbox id an earlier send step of this enrollment queued, if it did.
    static func sentMessage(_ db: Database, _ visit: Visit, sendStep: String) throws -> Int64 {
        try db.query("SELECT outbox_id FROM marketing_journey_step_log WHERE journey_id = ? AND enrollment_id = ? AND step = ?",
                     [.integer(visit.journeyID), .integer(visit.id), .text(sendStep)]).first?[0].int ?? 0
    }

    static func engaged(_ db: Database, _ visit: Visit, sendStep: String, kind: EngagementKind) throws -> Bool {
        let outbox = try sentMessage(db, visit, sendStep: sendStep)
        return outbox > 0 ? try Engagement.happened(db, outboxID: outbox, kind: kind) : false
    }

    /// The person as contacts has them, or the outcome that says why not.
    static func livePerson(_ ctx: CallContext, _ visit: Visit, _ step: JourneyStep) throws -> Result<Person, Outcome> {
        guard let person = try ContactsLink.person(ctx, visit.personID) else {
            return .failure(Outcome(name: "failed", detail: "person \(visit.personID) does not exist", next: step.next))
        }
        guard person.deletedUnixUs == 0, person.mergedIntoID == 0, person.erasedUnixUs == 0 else {
            return .failure(Outcome(name: "failed", detail: "person \(person.id) is deleted, merged or erased", next: step.next))
        }
        return .success(person)
    }

    static func send(_ ctx: CallContext, _ db: Database, _ step: JourneyStep, templateID: Int64, _ visit: Visit) throws -> Outcome {
        let person: Person
        switch try livePerson(ctx, visit, step) {
        case .success(let p): person = p
        case .failure(let o): return o
        }
        guard let to = person.emails.first?.address, !to.isEmpty else {
            return Outcome(name: "skipped_no_email", next: step.next)
        }
        let key = "journey:\(visit.journeyID):\(visit.id):\(step.key)"
        do {
            let organization = person.organizationID > 0 ? try ContactsLink.organization(ctx, person.organizationID) : nil
            let unsubscribe = try Tracking.unsubscribeURL(ctx, db, personID: person.id, campaignID: 0)
            let rendered = try Templates.render(ctx, db, templateID: templateID, person: person,
                                                organization: organization, unsubscribeURL: unsubscribe)
            let email = OutgoingEmail(dedupeKey: key, personID: person.id, to: to, subject: rendered.subject,
                                      html: rendered.html, text: rendered.text, purpose: "journey", campaignID: 0,
                                      tracked: true, unsubscribeURL: unsubscribe, requiresConsent: true)
            let id = try Outbox.enqueueOrFind(db, email) ?? 0
            return Outcome(name: "sent", outboxID: id, next: step.next)
        } catch let error as PluginError {
            return Outcome(name: "failed", detail: error.message, next: step.next)
        }
    }

    /// A change to the person in contacts, through contacts' UpdatePerson
    /// in this transaction (nil: nothing to change).
    static func change(_ ctx: CallContext, _ db: Database, _ step: JourneyStep, _ visit: Visit,
                       _ build: (Person) -> Crm_Contacts_V1_UpdatePersonRequest?, done: (Bool) -> String) throws -> Outcome {
        let person: Person
        switch try livePerson(ctx, visit, step) {
        case .success(let p): person = p
        case .failure(let o): return o
        }
        guard let update = build(person) else { return Outcome(name: done(false), next: step.next) }
        do {
            let _: Person = try ContactsLink.call(ctx, "UpdatePerson", update)
            return Outcome(name: done(true), next: step.next)
        } catch let error as PluginError {
            return Outcome(name: "failed", detail: error.message, next: step.next)
        }
    }
}
