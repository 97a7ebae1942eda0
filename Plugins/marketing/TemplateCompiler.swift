import CRMPluginKit
import Foundation
import Mustache

/// One part of a template, named as in the .proto.
enum TemplatePart: String, Sendable {
    case subject, htmlBody = "html_body", textBody = "text_body"

    static let all: [TemplatePart] = [.subject, .htmlBody, .textBody]
}

/// One merge tag a part uses, as swift-mustache parsed it.
struct TemplateTag: Hashable, Sendable {
    enum Kind: Sendable { case variable, unescaped, section, inverted }
    var name: String
    var transform: String?
    var kind: Kind
    /// Inside a section (other than {{#unsubscribe_url}}): may not render.
    var conditional: Bool
}

/// A part parsed once, with the tags it uses in order.
struct CompiledPart: Sendable {
    let part: TemplatePart
    let source: String
    /// The part's pieces as parsed (TemplatePieces), rendered one after
    /// another; none for an empty part.
    let templates: [MustacheTemplate]
    let tags: [TemplateTag]
}

/// The three parts of a template, ready to render.
struct CompiledTemplate: Sendable {
    let subject: CompiledPart
    let html: CompiledPart
    let text: CompiledPart

    var parts: [CompiledPart] { [subject, html, text] }

    /// Every name the parts use (sections too), sorted.
    var mergeFields: [String] { Set(parts.flatMap { $0.tags.map(\.name) }).sorted() }
}

/// Parses a part with swift-mustache and checks what the engine would do
/// with it: the tags are read from the engine's own parse (not a second
/// scanner that could disagree), so what was checked is what renders.
enum TemplateCompiler {
    static let maxDepth = 20
    /// Tags per part: a real email uses dozens. (The engine's parse of a
    /// whole part cost time per tag in proportion to the text, ≈ 17 s for
    /// 11,000 tags in 512 KiB; TemplatePieces parses in pieces now.)
    static let maxTags = 500
    static let transforms: Set<String> = ["capitalized", "lowercased", "uppercased"]

    /// The HTML part renders under our own content type (see TemplateEscaping);
    /// the subject and text under the engine's TEXT, which escapes nothing.
    private static let htmlPrefix: String = {
        TemplateEscaping.registerOnce
        return "{{%CONTENT_TYPE:\(TemplateEscaping.contentTypeName)}}\n"
    }()
    private static let textPrefix = "{{%CONTENT_TYPE:TEXT}}\n"

    static func compile(subject: String, html: String, text: String) throws -> CompiledTemplate {
        CompiledTemplate(subject: try compile(subject, .subject), html: try compile(html, .htmlBody),
                         text: try compile(text, .textBody))
    }

    static func compile(_ source: String, _ part: TemplatePart) throws -> CompiledPart {
        guard !source.isEmpty else { return CompiledPart(part: part, source: source, templates: [], tags: []) }
        // The engine finds columns by counting back to a "\n" Character, which
        // "\r\n" is not; line ends are canonical on the wire anyway.
        let normalized = source.contains("\r\n") ? source.replacingOccurrences(of: "\r\n", with: "\n") : source
        try prescan(normalized, part)
        // The content-type pragma is a standalone line of its own: it eats
        // its "\n", so each piece parses as if alone, one line down. Every
        // piece parses before any is walked: a syntax error anywhere comes
        // before what the walk refuses, as in one parse of the whole.
        let templates = try TemplatePieces.parse(normalized, prefix: part == .htmlBody ? htmlPrefix : textPrefix, part: part)
        var tags: [TemplateTag] = []
        for template in templates {
            try walk(template, part, conditional: false, depth: 0, into: &tags)
        }
        return CompiledPart(part: part, source: source, templates: templates, tags: tags)
    }

    static func describe(_ error: Error) -> String {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect?: return "this closing tag does not match the section it closes"
        case .unfinishedName?: return "a tag is malformed or not closed with }}"
        case .expectedSectionEnd?: return "a section is never closed ({{/name}} missing)"
        case .invalidSetDelimiter?: return "set delimiters are not supported"
        case .transformAppliedToInheritanceSection?, .illegalTokenInsideInheritSection?, .textInsideInheritSection?:
            return "template inheritance is not supported"
        case .invalidConfigVariableSyntax?, .unrecognisedConfigVariable?: return "pragmas are not supported"
        case nil: return "the text ends inside a tag"
        }
    }

    private static func refused(_ source: String, _ part: TemplatePart, at offset: Int, _ why: String) -> PluginError {
        let before = String(decoding: source.utf8.prefix(offset), as: UTF8.self)
        let line = before.reduce(1) { $1.isNewline ? $0 + 1 : $0 }
        let column = before.reversed().prefix { !$0.isNewline }.count + 1
        return .invalidArgument("\(part.rawValue): line \(line), column \(column): \(why)")
    }

    /// Refuses what the engine must never see: constructs we do not
    /// support (with their position), and nesting that would make its
    /// recursive parser (sections, transforms) run off the stack, which
    /// would take crmd down. Counts conservatively: a tag the parser would
    /// reject anyway may be counted here too.
    private static func prescan(_ source: String, _ part: TemplatePart) throws {
        let bytes = Array(source.utf8)
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        func find(_ a: UInt8, _ b: UInt8, from start: Int) -> Int? {
            var i = start
            while i + 1 < bytes.count {
                if bytes[i] == a && bytes[i + 1] == b { return i }
                i += 1
            }
            return nil
        }
        var depth = 0
        var i = 0
        var count = 0
        while let start = find(open, open, from: i) {
            let j = start + 2
            guard j < bytes.count else { break }
            count += 1
            if count > maxTags { throw refused(source, part, at: start, "more than \(maxTags) tags") }
            let end = find(close, close, from: j) ?? bytes.count
            i = end
            switch bytes[j] {
            case UInt8(ascii: "!"):
                i = end + 2
                continue
            case UInt8(ascii: "="):
                throw refused(source, part, at: start, "set delimiters ({{=...=}}) are not supported")
            case UInt8(ascii: "%"):
                throw refused(source, part, at: start, "pragmas ({{%...}}) are not supported")
            case UInt8(ascii: ">"):
                throw refused(source, part, at: start, "partials ({{>name}}) are not supported")
            case UInt8(ascii: "<"), UInt8(ascii: "$"):
                throw refused(source, part, at: start, "template inheritance ({{<name}}, {{$name}}) is not supported")
            case UInt8(ascii: "#"), UInt8(ascii: "^"):
                depth += 1
                if depth > maxDepth {
                    throw refused(source, part, at: start, "sections are nested more than \(maxDepth) deep")
                }
            case UInt8(ascii: "/"):
                depth = max(0, depth - 1)
            default:
                break
            }
            if bytes[j..<end].lazy.filter({ $0 == UInt8(ascii: "(") }).count > 1 {
                throw refused(source, part, at: start, "nested transforms are not supported (one of "
                    + transforms.sorted().joined(separator: ", ") + " per tag)")
            }
        }
    }

    /// The engine's tokens, read by reflection (its token type is not
    /// public). Anything of a shape we do not know is refused: an engine
    /// upgrade that changes them fails the tests rather than letting an
    /// unchecked construct through.
    private static func walk(_ template: MustacheTemplate, _ part: TemplatePart, conditional: Bool, depth: Int,
                             into tags: inout [TemplateTag]) throws {
        guard depth <= maxDepth, let tokens = child(template, "tokens") else { throw inspectionFailed }
        for token in Mirror(reflecting: tokens).children {
            let mirror = Mirror(reflecting: token.value)
            guard mirror.displayStyle == .enum, let kase = mirror.children.first, let label = kase.label else {
                throw inspectionFailed
            }
            let payload = kase.value
            switch label {
            case "text", "contentType":
                continue  // our own pragma (a user's is refused by prescan)
            case "variable", "unescapedVariable", "section", "invertedSection":
                guard let name = child(payload, "name") as? String,
                      let applied = child(payload, "transforms") as? [String] else { throw inspectionFailed }
                let kind: TemplateTag.Kind = switch label {
                case "variable": .variable
                case "unescapedVariable": .unescaped
                case "section": .section
                default: .inverted
                }
                let shown = tagText(name, applied, kind)
                if kind == .unescaped && part == .htmlBody {
                    throw PluginError.invalidArgument("\(part.rawValue): \(shown) would not be HTML-escaped; "
                        + "write {{\(applied.first.map { "\($0)(\(name))" } ?? name)}}, which escapes every value")
                }
                guard applied.count <= 1 else {
                    throw PluginError.invalidArgument("\(part.rawValue): \(shown): nested transforms are not supported")
                }
                if let transform = applied.first, !transforms.contains(transform) {
                    throw PluginError.invalidArgument("\(part.rawValue): \(shown): unknown transform \"\(transform)\"; "
                        + "use " + transforms.sorted().joined(separator: ", "))
                }
                tags.append(TemplateTag(name: name, transform: applied.first, kind: kind, conditional: conditional))
                if kind == .section || kind == .inverted {
                    guard let inner = child(payload, "template") as? MustacheTemplate else { throw inspectionFailed }
                    let always = kind == .section && name == "unsubscribe_url" && applied.isEmpty
                    try walk(inner, part, conditional: conditional || !always, depth: depth + 1, into: &tags)
                }
            case "partial", "dynamicNamePartial":
                throw PluginError.invalidArgument("\(part.rawValue): partials ({{>name}}) are not supported")
            case "blockDefinition", "blockExpansion":
                throw PluginError.invalidArgument("\(part.rawValue): template inheritance is not supported")
            default:
                throw inspectionFailed
            }
        }
    }

    private static func tagText(_ name: String, _ transforms: [String], _ kind: TemplateTag.Kind) -> String {
        let inner = transforms.reversed().reduce(name) { "\($1)(\($0))" }
        switch kind {
        case .variable: return "{{\(inner)}}"
        case .unescaped: return "{{{\(inner)}}}"
        case .section: return "{{#\(inner)}}"
        case .inverted: return "{{^\(inner)}}"
        }
    }

    private static func child(_ value: Any, _ label: String) -> Any? {
        Mirror(reflecting: value).children.first { $0.label == label }?.value
    }

    private static let inspectionFailed = PluginError(.internal,
        "the template engine's parse has a shape this plugin does not know; the template was not checked")
}
