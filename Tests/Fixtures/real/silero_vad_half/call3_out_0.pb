BoutputJ
¹5?