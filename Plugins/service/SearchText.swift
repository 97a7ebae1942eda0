import CRMPluginKit

/// A search query as data: words and phrases, all required (`all`) or
/// any one enough (`any`, for suggestions). Parsed from user text here,
/// so no engine ever parses what a user typed: FTS5's operators, quotes
/// and stars in the input are plain text (or a prefix star), never syntax.
struct SearchText: Equatable {
    enum Term: Equatable {
        /// One word; `prefix`: word* (also matches longer words).
        case word(String, prefix: Bool)
        /// Words that must follow each other.
        case phrase([String])
    }

    var terms: [Term]
    var any = false

    static let maxLength = 500
    static let maxTerms = 32

    /// The query syntax of SearchArticles: words are runs of letters and
    /// digits; "..." a phrase (an unclosed quote runs to the end); a star
    /// right after a word makes it a prefix. Anything else separates.
    /// INVALID_ARGUMENT for text with no word, too long, or too many terms.
    static func parse(_ text: String, field: String) throws -> SearchText {
        guard text.count <= maxLength else {
            throw PluginError.invalidArgument("\(field) is longer than \(maxLength) characters")
        }
        var terms: [Term] = []
        var word = ""
        var phrase: [String]?
        var chars = Array(text)[...]
        func endWord(prefix: Bool) {
            guard !word.isEmpty else { return }
            if phrase != nil { phrase!.append(word) } else { terms.append(.word(word, prefix: prefix)) }
            word = ""
        }
        while let c = chars.popFirst() {
            if c.isLetter || c.isNumber {
                word.append(c)
            } else if c == "*" && phrase == nil && !word.isEmpty {
                endWord(prefix: true)
            } else if c == "\"" {
                endWord(prefix: false)
                if let words = phrase {
                    if !words.isEmpty { terms.append(words.count == 1 ? .word(words[0], prefix: false) : .phrase(words)) }
                    phrase = nil
                } else {
                    phrase = []
                }
            } else {
                endWord(prefix: false)
            }
        }
        endWord(prefix: false)
        if let words = phrase, !words.isEmpty { terms.append(words.count == 1 ? .word(words[0], prefix: false) : .phrase(words)) }
        guard !terms.isEmpty else {
            throw PluginError.invalidArgument("\(field) has no word to search for (words are letters and digits)")
        }
        guard terms.count <= maxTerms else {
            throw PluginError.invalidArgument("\(field) has \(terms.count) terms; at most \(maxTerms)")
        }
        return SearchText(terms: terms)
    }

    /// A ticket's words for suggestions: distinct words of three letters
    /// or more, common English ones left out, the longest first (rarer,
    /// as a rule), at most `limit`; any one of them is enough to match.
    /// Nil when the text has none.
    static func suggestions(from text: String, limit: Int = 24) -> SearchText? {
        var seen = Set<String>()
        var words: [String] = []
        var word = ""
        func flush() {
            defer { word = "" }
            guard word.count >= 3, word.count <= 60 else { return }
            let folded = word.lowercased()
            guard !stopWords.contains(folded), seen.insert(folded).inserted else { return }
            words.append(folded)
        }
        for c in text.prefix(20_000) {
            if c.isLetter || c.isNumber { word.append(c) } else { flush() }
        }
        flush()
        guard !words.isEmpty else { return nil }
        let kept = words.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }.prefix(limit)
        return SearchText(terms: kept.sorted { $0.offset < $1.offset }.map { Term.word($0.element, prefix: false) }, any: true)
    }

    static let stopWords: Set<String> = [
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out",
        "has", "have", "him", "his", "how", "its", "may", "new", "now", "see", "two", "who", "did", "get", "got", "let",
        "too", "use", "with", "that", "this", "from", "they", "will", "would", "there", "their", "what", "about", "which",
        "when", "your", "were", "been", "into", "than", "then", "them", "these", "some", "could", "other", "only", "also",
        "just", "like", "very", "here", "does", "doesn", "don", "isn", "wasn", "can't", "cannot", "please", "thanks",
        "thank", "hello", "regards", "dear", "after", "before", "because", "while", "where", "why", "should", "still",
        "again", "since", "over", "under", "more", "most", "much", "many", "each", "every", "same", "such", "own",
    ]
}
