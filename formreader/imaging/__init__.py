"""Pure image stages, array in and array out: cleaning, rulings, boxes and combs, faint marks,
the page-or-field choice and the MNIST normalisation of one digit."""
