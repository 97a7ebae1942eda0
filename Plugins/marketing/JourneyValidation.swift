import CRMPluginKit
import MarketingContract

/// The checks a journey passes when saved: fields, then the step graph
/// (every next exists, every step reachable from the first, no cycle: each
/// person passes each step at most once per enrollment, so a loop could
/// never be walked), then what steps refer to (templates, segments).
enum JourneyValidation {
    static let maxSteps = 50
    /// Waits shorter than this are refused: the runner looks at due
    /// enrollments every 200 ms, so a shorter wait would not be kept anyway.
    static let minWaitUs: Int64 = 1_000_000
    static let maxWaitUs: Int64 = 366 * 86_400 * 1_000_000
    static let standardFields: Set<String> = ["job_title", "source", "notes"]

    static func check(_ db: Database, _ j: inout Journey, prefix p: String) throws {
        try checkTexts(&j, prefix: p)
        try Validate.optionalID(j.entrySegmentID, "\(p)entry_segment_id")
        guard j.reentryGapUs >= 0 else { throw PluginError.invalidArgument("\(p)reentry_gap_us must not be negative") }
        if j.reentryGapUs > 0 && !j.allowReentry {
            throw PluginError.invalidArgument("\(p)reentry_gap_us is set but allow_reentry is not")
        }
        if j.entrySegmentID > 0 { try requireSegment(db, j.entrySegmentID, "\(p)entry_segment_id") }
        try checkSteps(db, j.steps, prefix: p)
    }

    static func checkTexts(_ j: inout Journey, prefix p: String) throws {
        j.name = j.name.trimmedSpacesAndNewlines
        try Validate.required(j.name, "\(p)name")
        try Validate.maxLength(j.name, "\(p)name", 200)
        j.description_p = j.description_p.trimmedSpacesAndNewlines
        try Validate.maxLength(j.description_p, "\(p)description", 2000)
    }

    static func requireSegment(_ db: Database, _ id: Int64, _ field: String) throws {
        guard try !db.query("SELECT 1 FROM marketing_segments WHERE id = ?", [.integer(id)]).isEmpty else {
            throw PluginError.notFound("\(field): segment \(id) does not exist")
        }
    }

    static func requireTemplate(_ db: Database, _ id: Int64, _ field: String) throws {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT deleted_us FROM marketing_templates WHERE id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): template \(id) does not exist")
        }
        if (row[0].int ?? 0) != 0 { throw PluginError.failedPrecondition("\(field): template \(id) is deleted") }
    }

    static func isKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 64 && key.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45
        }
    }

    static func exits(_ s: JourneyStep) -> [String] { [s.next, s.elseNext].filter { !$0.isEmpty } }

    static func checkSteps(_ db: Database, _ steps: [JourneyStep], prefix p: String) throws {
        guard !steps.isEmpty else { throw PluginError.invalidArgument("\(p)steps: a journey needs at least one step") }
        guard steps.count <= maxSteps else { throw PluginError.invalidArgument("\(p)steps: at most \(maxSteps) steps") }
        var index: [String: Int] = [:]
        for (i, s) in steps.enumerated() {
            let f = "\(p)steps[\(i)]"
            guard isKey(s.key) else { throw PluginError.invalidArgument("\(f).key must be 1 to 64 of a-z, 0-9, _ and -") }
            guard index[s.key] == nil else { throw PluginError.invalidArgument("\(f).key \"\(s.key)\" is repeated") }
            index[s.key] = i
            guard s.action != nil else { throw PluginError.invalidArgument("\(f) has no action") }
        }
        for (i, s) in steps.enumerated() {
            let f = "\(p)steps[\(i)]"
            if !s.next.isEmpty && index[s.next] == nil {
                throw PluginError.invalidArgument("\(f).next: no step \"\(s.next)\"")
            }
            if !s.elseNext.isEmpty {
                switch s.action {
                case .branch, .waitForEngagement: break
                default: throw PluginError.invalidArgument("\(f).else_next: only branch and wait_for_engagement have two exits")
                }
                guard index[s.elseNext] != nil else { throw PluginError.invalidArgument("\(f).else_next: no step \"\(s.elseNext)\"") }
            }
        }
        // Cycles and reachability, by a depth-first walk from the first step.
        var color = [Int](repeating: 0, count: steps.count)  // 0 unseen, 1 on the path, 2 done
        func visit(_ i: Int) throws {
            color[i] = 1
            for next in exits(steps[i]) {
                guard let j = index[next] else { continue }
                if color[j] == 1 { throw PluginError.invalidArgument("\(p)steps[\(i)]: \"\(steps[i].key)\" -> \"\(next)\" makes a cycle") }
                if color[j] == 0 { try visit(j) }
            }
            color[i] = 2
        }
        try visit(0)
        if let lost = color.firstIndex(of: 0) {
            throw PluginError.invalidArgument("\(p)steps[\(lost)]: \"\(steps[lost].key)\" is not reachable from the first step")
        }
        func reaches(_ from: Int, _ to: Int) -> Bool {
            var seen: Set<Int> = [], stack = [from]
            while let i = stack.popLast() {
                if i == to { return true }
                guard seen.insert(i).inserted else { continue }
                stack += exits(steps[i]).compactMap { index[$0] }
            }
            return false
        }
        func checkSendRef(_ key: String, _ kind: EngagementKind, _ i: Int, _ f: String) throws {
            guard let j = index[key], case .send = steps[j].action, j != i, reaches(j, i) else {
                throw PluginError.invalidArgument("\(f).send_step must name a send step that leads to this step")
            }
            guard kind == .opened || kind == .clicked else {
                throw PluginError.invalidArgument("\(f).kind must be ENGAGEMENT_KIND_OPENED or ENGAGEMENT_KIND_CLICKED")
            }
        }
        for (i, s) in steps.enumerated() {
            let f = "\(p)steps[\(i)]"
            switch s.action {
            case .send(let send):
                try requireTemplate(db, send.templateID, "\(f).send.template_id")
            case .wait(let w):
                guard (w.durationUs != 0) != (w.untilUnixUs != 0) else {
                    throw PluginError.invalidArgument("\(f).wait: set exactly one of duration_us and until_unix_us")
                }
                if w.durationUs != 0, w.durationUs < minWaitUs || w.durationUs > maxWaitUs {
                    throw PluginError.invalidArgument("\(f).wait.duration_us must be 1 s to 366 days")
                }
                if w.untilUnixUs < 0 { throw PluginError.invalidArgument("\(f).wait.until_unix_us must not be negative") }
            case .waitForEngagement(let w):
                try checkSendRef(w.sendStep, w.kind, i, "\(f).wait_for_engagement")
                guard w.timeoutUs >= minWaitUs && w.timeoutUs <= maxWaitUs else {
                    throw PluginError.invalidArgument("\(f).wait_for_engagement.timeout_us must be 1 s to 366 days")
                }
            case .branch(let b):
                if b.segmentID < 0 { throw PluginError.invalidArgument("\(f).branch.segment_id must not be negative") }
                if b.segmentID > 0 {
                    guard b.sendStep.isEmpty, b.kind == .unspecified else {
                        throw PluginError.invalidArgument("\(f).branch: segment_id, or send_step and kind, not both")
                    }
                    try requireSegment(db, b.segmentID, "\(f).branch.segment_id")
                } else {
                    try checkSendRef(b.sendStep, b.kind, i, "\(f).branch")
                }
            case .tag(let t):
                let tag = t.tag.trimmedSpacesAndNewlines
                guard !tag.isEmpty, tag.count <= 100, tag == t.tag else {
                    throw PluginError.invalidArgument("\(f).tag.tag must be 1 to 100 characters, without surrounding spaces")
                }
            case .updateField(let u):
                try checkField(u, "\(f).update_field")
            case nil:
                break
            }
        }
    }

    static func checkField(_ u: Crm_Marketing_V1_JourneyUpdateFieldStep, _ f: String) throws {
        if standardFields.contains(u.field) {
            guard case .text(let text)? = u.value.value else {
                throw PluginError.invalidArgument("\(f).value: \(u.field) takes value.text")
            }
            try Validate.maxLength(text, "\(f).value.text", 2000)
        } else if u.field.hasPrefix("custom."), u.field.count > 7, u.field.count <= 72 {
            guard u.hasValue, u.value.value != nil else { throw PluginError.invalidArgument("\(f).value is required") }
        } else {
            throw PluginError.invalidArgument("\(f).field must be job_title, source, notes or custom.<key>")
        }
    }
}
