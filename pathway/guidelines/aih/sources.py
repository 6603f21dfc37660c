"""Source ids of the clinical knowledge base (shared/clinical/aih-knowledge-base.md, section 0.3).

Every rule and threshold cites sources by these ids. A test compares this list with the
knowledge base itself, so a citation can only name a source the knowledge base lists.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["SOURCES", "TAGS", "Tag"]

Tag = Literal["V", "V-sec", "R", "MODEL"]
"""Verification tag (knowledge base 0.1): verified, secondary only, recalled, modelling choice."""

TAGS: Final[tuple[Tag, ...]] = ("V", "V-sec", "R", "MODEL")

SOURCES: Final[dict[str, str]] = {
    "G-EASL25": "EASL Clinical Practice Guidelines on autoimmune hepatitis, J Hepatol 2025",
    "G-BSG25": "BSG guidelines for autoimmune hepatitis, Gut 2025",
    "G-EASL15": "EASL Clinical Practice Guidelines: autoimmune hepatitis, J Hepatol 2015",
    "G-AASLD19": "AASLD practice guidance on autoimmune hepatitis, Hepatology 2020 (2019)",
    "G-AASLD10": "AASLD diagnosis and management of AIH, Hepatology 2010 (legacy)",
    "G-IAIHG22": "IAIHG response criteria and endpoints, J Hepatol 2022",
    "G-ERN20": "ERN RARE-LIVER / IAIHG second- and third-line position statement, J Hepatol 2020",
    "G-HASL": "Hellenic Association (HASL) revised AIH guidelines",
    "G-ESPGHAN18": "ESPGHAN paediatric autoimmune liver disease position statement, 2018",
    "S-MANNS10": "Manns 2010, budesonide vs prednisone RCT, Gastroenterology",
    "S-WOYN13": "Woynarowski 2013, paediatric budesonide RCT, J Pediatr",
    "S-CAMARO": "Snijders 2024, CAMARO: MMF vs AZA induction RCT, J Hepatol",
    "S-PAPE19": "Pape 2019, predniso(lo)ne dosage and remission, Clin Gastroenterol Hepatol",
    "S-DIAZ23": "Diaz-Gonzalez 2023, budesonide first line real-world, Hepatology",
    "S-VGERVEN13": "van Gerven 2013, relapse after withdrawal, J Hepatol",
    "S-HARTL15": "Hartl 2015, selection for withdrawal, J Hepatol",
    "S-EJIM21": "Withdrawal after histological remission, Eur J Intern Med 2021",
    "S-KIL10": "Kil 2010, long-term outcomes in Korea, J Korean Med Sci",
    "S-TUR": "Turkish single-centre AIH cohort, withdrawal outcomes",
    "S-JOHNSON95": "Johnson 1995, azathioprine maintenance, N Engl J Med",
    "S-SANTIAGO19": "Santiago 2019, MMF second line meta-analysis, Aliment Pharmacol Ther",
    "S-EFE17": "Efe 2017, MMF and tacrolimus second line, Clin Gastroenterol Hepatol",
    "S-ML22": "Montano-Loza 2022, recurrent AIH after transplant, J Hepatol",
    "S-CZAJA12": "Czaja 2012, AIH after liver transplantation, Dig Dis Sci",
    "S-YEOMAN11": "Yeoman 2011, steroid failure in icteric AIH, Hepatology",
    "S-ML07": "Treatment failure in type 1 AIH and MELD, Hepatology 2007",
    "S-RAHIM20": "Approach to acute severe AIH, JHEP Rep 2020",
    "S-SURFASA22": "SURFASA and MELD-Na in severe acute AIH, Dig Liver Dis 2022",
    "S-ALFSG": "ALFSG steroids in autoimmune acute liver failure",
    "S-GRON14": "Gronbaek 2014, AIH in Denmark, J Hepatol",
    "S-GRON20": "Gronbaek 2020, AIH in England, Liver Int",
    "S-SWE17": "Danielsson Borssen 2017, Swedish AIH cohort, Scand J Gastroenterol",
    "S-TANSEL17": "Tansel 2017, HCC in AIH meta-analysis, Clin Gastroenterol Hepatol",
    "S-YAN21": "Yan 2021, sex and HCC in AIH meta-analysis, Hepatol Int",
    "S-BIEW22": "Biewenga 2022, aminotransferases predict survival, Clin Gastroenterol Hepatol",
    "S-ZACHOU23": "Zachou 2023, AIH with NAFLD features, JHEP Rep",
    "S-DELUCA16": "De Luca-Johnson 2016, AIH with NAFLD, Dig Dis Sci",
    "S-HEN01": "Heneghan 2001, pregnancy in AIH, Gut",
    "S-DB16": "Danielsson Borssen 2016, pregnancy in AIH, Scand J Gastroenterol",
    "S-WANG22": "Wang 2022, pregnancy outcomes in AIH, Hepatology",
    "S-GEIER03": "Geier 2003, budesonide side effects in cirrhosis, World J Gastroenterol",
    "S-SCOT22": "Sutton 2022, paediatric AIH in Scotland, JPGN Rep",
    "S-DOSEMA": "Meta-analysis of high- vs low-dose steroid induction",
    "S-SEC-BP": "BMJ Best Practice, AIH prognosis (secondary)",
    "S-SEC-AI": "Online clinical-answer summaries (secondary, low trust)",
    # Added for the disease model (docs/clinical-evidence.md, issue 12).
    "S-PAPE20": "Pape 2020, azathioprine discontinuation in AIH, Liver Int",
    "S-TELLEZ22": "Tellez 2022, corticosteroids in acute severe AIH, Aliment Pharmacol Ther",
    "S-WANG16": "Wang 2016, AIH with decompensated cirrhosis, Clin Rev Allergy Immunol",
    "S-SHARMA21": "Sharma 2021, mortality in AIH in Sweden, Clin Gastroenterol Hepatol",
    "S-HEINEMANN20": "Heinemann 2020, survival after LT for AIH (ELTR), Liver Transpl",
    "S-SURVEY-AILD": "European survey of adherence in autoimmune liver disease (secondary)",
    "S-SHARMAS21": "Sharma S 2021, decompensation and steroid outcomes in AIH, JGH Open",
    "S-ARVANITI24": "Arvaniti 2024, review of AIH treatment, Explor Dig Dis",
    "S-FELD05": "Feld 2005, symptoms and cirrhosis in AIH outcome, Hepatology (abstract)",
    "S-LANDEIRA12": "Landeira 2012, cirrhosis at baseline in type 1 AIH, Ann Hepatol (abstract)",
    "S-MELD": "MELD score, the UNOS formula (read on calculator pages: secondary)",
}
