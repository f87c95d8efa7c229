*"
textBYTESš*Bwhat islogits