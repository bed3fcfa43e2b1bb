"""The words intake's rules judge text by, kept as data (one file, no logic): stop-words,
the vocabulary of asking for help or speed, the words that only say "something is wrong",
and the general synonyms of rule 6 (each module's own are with the module, in the kernel's
catalog data).

Every word is written as customers write it; `domain` folds accents and case and stems
(Snowball, Spanish) when it loads them, so "conciliación", "conciliar" and "Conciliacion"
all land on one entry. To teach the desk a new synonym, add the word to its group.
"""
from __future__ import annotations

from helpdesk_shared.catalog import vocabulary as catalog_vocabulary

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
# Not "solicit", "requer", "asist" or "favor": "solicitud de vacaciones", "requerimiento de
# compra", "control de asistencia" and "saldo a favor" are the ERP's own words.
HELP_PREFIXES = (
    "ayud", "auxili", "socorr", "urgen", "emergenc", "rapid", "pront", "prisa", "apur", "inmediat",
    "porfa", "revis", "verific", "atend", "atien", "atenc", "soluc", "resolv", "resuelv",
    "necesit", "apoy", "graci", "agradec", "chequea",
    "help", "pleas", "urgent", "quick", "asap",
)
# Whole words of the same kind that are too short or too common to match by prefix.
HELP_WORDS = frozenset("""
    ya fa pf pls plz hola buen buena buenas buenos dia dias tarde tardes noche noches saludo saludos
    mismo ahora hoy caso casos tema temas asunto cosa cosas podrian podria pueden puede mas menos
    posible lo antes sr sra srs estimado estimados solicito solicitamos requiero requerimos
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

# Rule 6: the words customers use for the same thing, as groups "CONCEPT": "word word ...".
# A word in a group counts as its concept when two cases are compared; a module's groups
# are read before the general ones (in BANCOS "transferencia" is a payment, in SOCIOS the
# hand-over of a share). Multi-word expressions are not matched: list their telling word.
GENERAL_SYNONYMS: dict[str, str] = {
    "DUPLICATE": "duplicado duplicada duplicados duplicadas duplicar doble repetido repetida repetidos repite "
                 "repiten dos veces",
    "SHOWN": "aparece aparecen sale salen muestra muestran mostrar refleja reflejan reflejar ve ven figura "
             "trae traen registra registrar registrado registrada registrados",
    "NOT": "no sin ni nunca",
    "WRONG": "mal errado errada errados erradas equivocado equivocada incorrecto incorrecta erroneo erronea",
    "EMPTY": "vacio vacia vacios blanco",
    "MISSING": "omite omiten omitir falta faltan incluye incluyen incluir",
    "PRINT": "imprimir imprime imprimen impresion impreso impresa emitir emite emision",
    "UPLOAD": "cargar carga subir sube importar importa",
    "REFUSED": "rechaza rechazado rechazada rechazar rechazo acepta aceptar",
    "SLOW": "lento lenta lentitud tarda tardar demora demorar",
    "LOGIN": "login ingreso ingresar entrar entra acceder acceso sesion",
    "NIGHT": "noche nocturno nocturna",
    "REPORT": "reporte reportes listado informe",
    "PAYMENT": "pago pagos pagar pagado abono abonar abono",
    "DEDUCT": "descuenta descontar rebaja rebajar resta restar disminuye disminuir bajan",
    "EXPIRE": "vence vencer vencimiento vencido vencidos caduca caducan caducar",
    "MONTH": "mes mensual",
    "DEBT": "moroso morosos morosidad mora deuda deudor deudora",
    "WORKER": "empleado empleados trabajador trabajadores personal",
    "FILE": "archivo txt",
    "SAVE": "guarda guardar guardado actualiza actualizar queda",
    "HOLIDAY": "feriado feriados festivo festivos",
    "STOPS": "detiene detener detenido para parada queda termina terminar",
}

# A module's own groups and its common words live with the module in the kernel's catalog data
# (helpdesk_shared/catalog.json: `synonyms`, read before the general groups; `words`, every case
# of the module uses them — "factura" in FACTURACION — so they weigh little and sharing them
# does not make two cases one).
MODULE_WORDS, MODULE_SYNONYMS = catalog_vocabulary()

# "Urgent, exclusively" (d): payroll, cheque runs, SENIAT files and accounting reports are not
# urgent; filed in a month's last business days they get a warning. By module, or by these
# folded word beginnings (and whole words) anywhere in the summary or description.
MONTH_END_MODULES = frozenset({"NOMINA", "SENIAT", "CONTABILIDAD", "CXP"})
MONTH_END_PREFIXES = ("cheque", "chequera", "nomina", "prenomina", "seniat", "declaracion", "retencion",
                      "balance", "contab", "financier", "islr")
MONTH_END_WORDS = frozenset({"iva", "arc", "xml"})
