"""The words intake's rules judge text by, kept as data (one file, no logic): stop-words,
the vocabulary of asking for help or speed, the words that only say "something is wrong",
and, per module, the words customers use for the same operation (rule 6's synonyms).

Every word is written as customers write it; `domain` folds accents and case and stems
(Snowball, Spanish) when it loads them, so "conciliación", "conciliar" and "Conciliacion"
all land on one entry. To teach the desk a new synonym, add the word to its group.
"""
from __future__ import annotations

# Function words that carry no case (what rules 4 and 5 count words without).
STOPWORDS = frozenset(
    "de la el en y a e o u que con por para los las un una unos unas del al se no mi mis me "
    "lo le les su sus es nos te ya".split()
)
# More of them, set aside too when comparing two cases (rule 6): Spanish, and the English a
# few customers write. "no" is kept there: "no cuadra" and "cuadra" are different cases.
MATCH_STOPWORDS = STOPWORDS - {"no"} | frozenset("""
    algo algun alguna algunas alguno algunos ante antes aqui asi aun cada como contra cual cuales cuando
    desde donde durante ella ellas ellos entre era eran esa esas ese eso esos esta estaba estan estar
    estas este esto estos fue fueron ha hace hacen han hasta hay mucho muy nosotros nuestra nuestro
    otra otras otro otros pero poco porque puede pueden quien sea segun ser si sido sobre solo son
    tambien tan tanto tiene tienen todo todos tu tus uno usted ustedes yo cuyo sale salen aparece
    aparecen esta favor buenas buenos dias tardes saludos gracias hola
    the an of to in on for with is are be it this that and or at by from my our we i you
""".split())

# Saying "help", "quick", "please", "hello" or "I need" without saying what happened
# (rule 4). Folded prefixes, so every conjugation and clitic counts: "ayúdenme",
# "ayudarnos", "revísenlo", "apúrense", "rapidísimo".
HELP_PREFIXES = (
    "ayud", "auxili", "socorr", "urgen", "emergenc", "rapid", "pront", "prisa", "apur", "inmediat",
    "favor", "porfa", "revis", "verific", "atend", "atien", "atenc", "soluc", "resolv", "resuelv",
    "necesit", "requier", "requer", "solicit", "apoy", "asist", "graci", "agradec", "chequea",
    "help", "pleas", "urgent", "quick", "asap",
)
# Whole words of the same kind that are too short or too common to match by prefix.
HELP_WORDS = frozenset("""
    ya fa pf pls plz hola buen buena buenas buenos dia dias tarde tardes noche noches saludo saludos
    mismo ahora hoy caso casos tema temas asunto cosa cosas podrian podria pueden puede mas menos
    posible lo antes sr sra srs estimado estimados
    hi hello thanks need needs soon possible fix check review now today
""".split())

# Words that only say something went wrong: they may sit in a case ("Error al generar la
# nómina") but a case of nothing else is vague (rule 4).
VAGUE_WORDS = frozenset("""
    error errores problema problemas falla fallas fallo fallos inconveniente inconvenientes consulta
    consultas duda dudas pregunta preguntas pasaria pasa paso sucede ocurre ocurrio detalle detalles
    issue issues problem problems bug bugs
""".split())

# Asking for urgency in the subject: dropped from the stored case (urgency is a field, with
# three causes), and the customer is told so.
URGENCY_WORDS = ("urgente", "urgentes", "urgentisimo", "urgentísimo", "urgencia", "urgentemente",
                 "emergencia", "urgent", "asap")
